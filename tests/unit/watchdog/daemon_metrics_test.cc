// The Prometheus textfile: its format, what the loop counts, rate-limited atomic writes.
#include <sys/stat.h>

#include "tests/unit/watchdog/harness.h"
#include "watchdog/daemon/metrics.h"

using namespace goodcop::test;

namespace {

bool has(const std::string& path, const std::string& line) {
  struct stat st {};
  if (::stat(path.c_str(), &st) < 0) return false;
  return goodcop::read_file(path).find(line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("metrics: the textfile format, one jail", "[daemon][metrics]") {
  JailStatus s;
  s.name = "web1";
  s.state = State::kMaintenance;
  s.checks = 12;
  s.deviations = 2;
  s.heals = 1;
  s.evidence_failures = 1;
  s.restarts = 3;
  s.last_check_ms = 1234;
  s.last_check_time =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(1764440000500));
  JailStatus fresh;
  fresh.name = "web2";
  fresh.state = State::kStarting;
  std::string text = render_metrics({s});
  CHECK(text ==
        "# HELP goodcop_jail_state 1 for the state each jail is in, 0 for the others.\n"
        "# TYPE goodcop_jail_state gauge\n"
        "goodcop_jail_state{jail=\"web1\",state=\"starting\"} 0\n"
        "goodcop_jail_state{jail=\"web1\",state=\"running\"} 0\n"
        "goodcop_jail_state{jail=\"web1\",state=\"checking\"} 0\n"
        "goodcop_jail_state{jail=\"web1\",state=\"tampered\"} 0\n"
        "goodcop_jail_state{jail=\"web1\",state=\"preserving\"} 0\n"
        "goodcop_jail_state{jail=\"web1\",state=\"restoring\"} 0\n"
        "goodcop_jail_state{jail=\"web1\",state=\"frozen\"} 0\n"
        "goodcop_jail_state{jail=\"web1\",state=\"maintenance\"} 1\n"
        "goodcop_jail_state{jail=\"web1\",state=\"failed\"} 0\n"
        "goodcop_jail_state{jail=\"web1\",state=\"stopped\"} 0\n"
        "# HELP goodcop_checks_total Checks completed since the daemon started.\n"
        "# TYPE goodcop_checks_total counter\n"
        "goodcop_checks_total{jail=\"web1\"} 12\n"
        "# HELP goodcop_deviations_total Deviations found since the daemon started.\n"
        "# TYPE goodcop_deviations_total counter\n"
        "goodcop_deviations_total{jail=\"web1\"} 2\n"
        "# HELP goodcop_heals_total Restores from the golden archive completed since the "
        "daemon started.\n"
        "# TYPE goodcop_heals_total counter\n"
        "goodcop_heals_total{jail=\"web1\"} 1\n"
        "# HELP goodcop_evidence_failures_total Evidence bundles that could not be written "
        "since the daemon started.\n"
        "# TYPE goodcop_evidence_failures_total counter\n"
        "goodcop_evidence_failures_total{jail=\"web1\"} 1\n"
        "# HELP goodcop_restarts_total Restarts of the jail (after a heal or a crash), kept "
        "across daemon restarts.\n"
        "# TYPE goodcop_restarts_total counter\n"
        "goodcop_restarts_total{jail=\"web1\"} 3\n"
        "# HELP goodcop_last_check_seconds How long the last check took.\n"
        "# TYPE goodcop_last_check_seconds gauge\n"
        "goodcop_last_check_seconds{jail=\"web1\"} 1.234\n"
        "# HELP goodcop_last_check_timestamp_seconds When the last check ended (Unix time): "
        "alert when it stops moving.\n"
        "# TYPE goodcop_last_check_timestamp_seconds gauge\n"
        "goodcop_last_check_timestamp_seconds{jail=\"web1\"} 1764440000.500\n");
  // A jail never checked has no check gauges (rather than a misleading 0).
  std::string two = render_metrics({s, fresh});
  CHECK(two.find("goodcop_checks_total{jail=\"web2\"} 0\n") != std::string::npos);
  CHECK(two.find("goodcop_last_check_seconds{jail=\"web2\"}") == std::string::npos);
}

TEST_CASE("metrics: the loop counts checks, deviations, heals and restarts", "[daemon][metrics]") {
  Harness h(milliseconds(20));
  auto j = h.add("web1");
  auto k = h.add("web2");
  k->fail_evidence = true;
  std::string path = h.tmp / "metrics.prom";
  h.sup->start();
  // Written at every change (rate-limited): running or checking, whichever it caught.
  h.run_until([&] {
    return has(path, "goodcop_jail_state{jail=\"web1\",state=\"running\"} 1") ||
           has(path, "goodcop_jail_state{jail=\"web1\",state=\"checking\"} 1");
  });
  j->set_deviation(true);
  k->set_deviation(true);
  h.run_until([&] {
    return has(path, "goodcop_heals_total{jail=\"web1\"} 1") &&
           has(path, "goodcop_restarts_total{jail=\"web1\"} 1") &&
           has(path, "goodcop_deviations_total{jail=\"web1\"} 1") &&
           has(path, "goodcop_evidence_failures_total{jail=\"web2\"} 1") &&
           has(path, "goodcop_jail_state{jail=\"web2\",state=\"frozen\"} 1");
  });
  std::string text = goodcop::read_file(path);
  CHECK(text.find("goodcop_checks_total{jail=\"web1\"} 0\n") == std::string::npos);
  CHECK(text.find("goodcop_last_check_seconds{jail=\"web1\"} ") != std::string::npos);
  bool done = false;
  h.sup->stop_all([&] { done = true; });
  h.run_until([&] { return done; });
  // Flushed at once on stop, whatever the rate limit.
  CHECK(has(path, "goodcop_jail_state{jail=\"web1\",state=\"stopped\"} 1"));
  struct stat st {};
  CHECK(::stat((path + ".tmp").c_str(), &st) < 0);  // renamed, never left behind
}

TEST_CASE("metrics: writes are rate-limited however often jails change", "[daemon][metrics]") {
  Harness h(milliseconds(1000));
  std::vector<std::shared_ptr<FakeJail>> js;
  for (int i = 0; i < 5; ++i) js.push_back(h.add("j" + std::to_string(i)));
  auto t0 = std::chrono::steady_clock::now();
  h.sup->start();
  h.run_until([&] {
    size_t n = 0;
    for (auto& j : js) n += j->count("check");
    return n >= 100;  // 5 jails every 10 ms: a hundred changes or more
  });
  auto elapsed = std::chrono::steady_clock::now() - t0;
  // The first write at once, then at most one per second of the time that passed.
  auto bound = 1 + static_cast<uint64_t>(elapsed / std::chrono::seconds(1)) + 1;
  CHECK(h.sup->metrics()->writes() <= bound);
  CHECK(h.sup->metrics()->writes() >= 1);
}
