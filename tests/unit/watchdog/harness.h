#pragma once
// The supervisor on its own loop and pool over fake drivers (test-only), shared by the
// loop, reload, exec and metrics tests. The policy "directory" is a map the test edits
// between reloads.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/error.h"
#include "base/fd.h"
#include "base/log.h"
#include "tests/support/support.h"
#include "tests/unit/watchdog/fake_driver.h"
#include "watchdog/daemon/supervisor.h"

namespace goodcop::test {

using namespace goodcop::supervisor;
using std::chrono::milliseconds;
using Strings = std::vector<std::string>;

// One supervisor on its own loop and pool over a temporary state directory.
struct Harness {
  TempDir tmp;
  StateStore store{tmp / "state"};
  EventLog events{tmp / "events.log", false};
  boost::asio::io_context io;
  // Like the daemon's signal_set, keeps run_one_for() from stopping the loop when idle.
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard =
      boost::asio::make_work_guard(io);
  boost::asio::thread_pool pool{2};
  // The policy "directory": what the source returns now (tests edit it between reloads).
  std::map<std::string, JailConfig> policies;
  std::map<std::string, std::string> fingerprints;  // name → fingerprint ("v1" by default)
  std::map<std::string, std::string> files;         // name → file ("NAME.yaml" by default)
  std::set<std::string> broken;
  std::vector<std::string> problems;
  std::map<std::string, int> drivers_made;
  bool source_fails = false;            // the directory cannot be read
  std::set<std::string> driver_fails;   // make_driver throws for these jails
  std::vector<std::string> duplicates;  // also defined in "dup-NAME.yaml"
  std::unique_ptr<Supervisor> sup;

  // Exec limit 2; the metrics file in the temporary directory, rewritten at most once
  // per `metrics_interval`.
  explicit Harness(milliseconds metrics_interval = milliseconds(1000)) {
    Supervisor::Options o;
    o.max_execs = 2;
    o.metrics_path = tmp / "metrics.prom";
    o.metrics_interval = metrics_interval;
    sup = std::make_unique<Supervisor>(
        io, pool, store, events, [this] { return source(); }, o);
  }

  PolicySet source() {
    if (source_fails) throw goodcop::SysError("policy directory", "/etc/goodcop/jails", EACCES);
    PolicySet set;
    for (const auto& [name, cfg] : policies) {
      DesiredJail d;
      d.cfg = cfg;
      d.file = files.count(name) ? files[name] : name + ".yaml";
      d.fingerprint = fingerprints.count(name) ? fingerprints[name] : "v1";
      d.make_driver = [this, name = name] {
        if (driver_fails.count(name))
          throw goodcop::Error("golden '/golden/" + name + "' is missing");
        ++drivers_made[name];
        return std::make_unique<FakeDriver>(jails.at(name));
      };
      set.jails.push_back(std::move(d));
    }
    for (const auto& name : duplicates) {
      DesiredJail d = set.jails.at(0);
      d.cfg.name = name;
      d.file = "dup-" + name + ".yaml";
      set.jails.push_back(std::move(d));
    }
    set.problems = problems;
    set.broken_files = broken;
    return set;
  }

  ~Harness() {
    // Stop cleanly even when a REQUIRE failed, so no work is left on the pool.
    for (auto& [name, j] : jails) {
      j->release_restore();
      j->release_exec();
    }
    bool done = false;
    sup->stop_all([&] { done = true; });
    for (int i = 0; i < 500 && !done; ++i) io.run_one_for(milliseconds(10));
    pool.join();
  }

  std::shared_ptr<FakeJail> add(const std::string& name, OnTamper t = OnTamper::kHeal,
                                RestartPolicy rp = fast_restarts()) {
    auto j = std::make_shared<FakeJail>();
    JailConfig cfg;
    cfg.name = name;
    cfg.interval = milliseconds(10);
    cfg.on_tamper = t;
    cfg.restart = rp;
    policies[name] = cfg;
    jails[name] = j;
    return j;
  }

  static RestartPolicy fast_restarts() {
    RestartPolicy p;
    p.base = milliseconds(1);
    p.cap = milliseconds(8);
    p.max_failures = 4;
    p.window = milliseconds(60000);
    return p;
  }

  // Runs the loop until `pred` holds; fails after 10 s (a hang, not a timing assertion).
  void run_until(const std::function<bool()>& pred) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        std::string where;
        for (const auto& [name, j] : jails) {
          where += name + ": " + std::string(state_name(state(name))) + ", calls:";
          for (const auto& c : j->snapshot()) where += " " + c;
          where += "; ";
        }
        FAIL("timed out waiting: " << where << "\nevents:\n"
                                   << goodcop::read_file(tmp / "events.log"));
      }
      io.run_one_for(milliseconds(5));
    }
  }
  std::map<std::string, std::shared_ptr<FakeJail>> jails;

  State state(const std::string& name) { return sup->find(name)->state(); }

  Response call(Request req) {
    std::optional<Response> out;
    sup->handle(req, [&](Response r) { out = std::move(r); });
    run_until([&] { return out.has_value(); });
    return *out;
  }

  // The events of one jail as "from>to" strings.
  Strings story(const std::string& jail) {
    Strings out;
    std::string text = goodcop::read_file(tmp / "events.log");
    size_t pos = 0;
    while (pos < text.size()) {
      auto nl = text.find('\n', pos);
      auto j = nlohmann::json::parse(text.substr(pos, nl - pos));
      if (j["jail"] == jail)
        out.push_back(j["from"].get<std::string>() + ">" + j["to"].get<std::string>());
      pos = nl + 1;
    }
    return out;
  }
  nlohmann::json last_event(const std::string& jail) {
    nlohmann::json last;
    std::string text = goodcop::read_file(tmp / "events.log");
    size_t pos = 0;
    while (pos < text.size()) {
      auto nl = text.find('\n', pos);
      auto j = nlohmann::json::parse(text.substr(pos, nl - pos));
      if (j["jail"] == jail) last = j;
      pos = nl + 1;
    }
    return last;
  }
};

inline Request req(Verb v, const std::string& jail = "") {
  Request r;
  r.verb = v;
  r.jail = jail;
  return r;
}

}  // namespace goodcop::test
