// End to end, as root: the daemon killed with SIGKILL during each step of a heal, reload,
// and an operator's verbs (snapshot, the upgrade story, rollback) on real jails.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/e2e/daemon_fixture.h"

namespace goodcop::test {
namespace {

using namespace std::chrono_literals;

// Every file in the evidence directory is a whole, verifying bundle or its log.
void expect_whole_evidence(const DaemonFixture& f, const std::string& jail) {
  size_t bundles = 0;
  for (const auto& e : std::filesystem::directory_iterator(f.evidence_dir(jail))) {
    std::string name = e.path().filename();
    if (name == jail + ".evidence.log" || name.find(".lock") != std::string::npos) continue;
    INFO("evidence dir holds '" << name << "'");
    REQUIRE(name.rfind(jail + "-", 0) == 0);
    RunResult v = run_goodcop({"evidence", "verify", e.path()});
    INFO(v.out << v.err);
    CHECK(v.status == 0);
    ++bundles;
  }
  CHECK(bundles >= 1);
}

}  // namespace

TEST_CASE("a daemon killed during any step of a heal finishes it after a restart",
          "[root][e2e]") {
  GOODCOP_REQUIRE_ROOT();
  auto step = GENERATE(std::string("tampered"), std::string("preserving"),
                       std::string("restoring"), std::string("starting"));
  DYNAMIC_SECTION("SIGKILL on entering " << step) {
    DaemonFixture f;
    f.add_jail({});
    f.start_daemon();
    size_t from = f.events().size();
    write_text(f.jail_path("web1") + "/www/index.html", "defaced\n");
    // Kill the daemon the moment the event of that step is written.
    bool seen = f.wait_for(
        [&] {
          auto t = f.transitions("web1", from);
          return std::find(t.begin(), t.end(), step) != t.end();
        },
        20s);
    REQUIRE(seen);
    CHECK(WTERMSIG(f.stop_daemon(SIGKILL)) == SIGKILL);
    f.start_daemon();
    CHECK(f.wait_for([&] { return f.http_get("web1") == original_page("web1"); }, 20s));
    CHECK(f.state_of("web1") == "running");
    expect_whole_evidence(f, "web1");
    RunResult c = f.ctl({"check", "web1"});
    INFO(c.out << c.err << f.daemon_log());
    CHECK(c.status == 0);
  }
}

TEST_CASE("reload restarts the jail whose policy changed and leaves the others alone",
          "[root][e2e]") {
  GOODCOP_REQUIRE_ROOT();
  DaemonFixture f;
  JailSetup a, b;
  a.name = "web1";
  b.name = "web2";
  b.index = 2;
  f.add_jail(a);
  f.add_jail(b);
  f.start_daemon();
  pid_t a_init = f.init_pid("web1"), b_init = f.init_pid("web2");
  REQUIRE(a_init != 0);
  REQUIRE(b_init != 0);
  b.interval = "2s";
  f.write_policy(b);
  RunResult r = f.ctl({"reload"});
  INFO(r.out << r.err << f.daemon_log());
  CHECK(r.status == 0);
  CHECK(f.wait_for([&] { return f.init_pid("web2") != 0 && f.init_pid("web2") != b_init; }, 20s));
  CHECK(f.wait_state("web2", "running"));
  CHECK(f.init_pid("web1") == a_init);

  // A broken policy is reported; its jail keeps running under its old policy.
  write_text(f.policies() + "/web1.yaml", "name: web1\nnot_a_key: 1\n", 0600);
  RunResult broken = f.ctl({"reload"});
  CHECK(broken.status == 2);
  CHECK(broken.err.find("not_a_key") != std::string::npos);
  CHECK(f.init_pid("web1") == a_init);
  CHECK(f.state_of("web1") == "running");
  CHECK(f.http_get("web1") == original_page("web1"));
}

TEST_CASE("snapshot preserves a live jail without healing it", "[root][e2e]") {
  GOODCOP_REQUIRE_ROOT();
  DaemonFixture f;
  f.add_jail({});
  f.start_daemon();
  pid_t init = f.init_pid("web1");
  RunResult s = f.ctl({"snapshot", "web1"});
  INFO(s.out << s.err);
  REQUIRE(s.status == 0);
  std::string bundle = s.out.substr(0, s.out.find('\n'));
  if (bundle.find('/') != std::string::npos) bundle = bundle.substr(bundle.find('/'));
  RunResult v = run_goodcop({"evidence", "verify", bundle});
  INFO(v.out << v.err);
  CHECK(v.status == 0);
  CHECK(f.init_pid("web1") == init);
  CHECK(f.state_of("web1") == "running");
  CHECK(f.http_get("web1") == original_page("web1"));
}

TEST_CASE("the upgrade story (maintain on then upgrade inside then seal then maintain off) then rollback",
          "[root][e2e]") {
  GOODCOP_REQUIRE_ROOT();
  DaemonFixture f;
  f.add_jail({});
  f.start_daemon();
  const std::string v2 = "<h1>version 2</h1>\n";
  RunResult m = f.ctl({"maintain", "web1", "on"});
  INFO(m.out << m.err);
  REQUIRE(m.status == 0);
  CHECK(f.wait_state("web1", "maintenance"));
  RunResult up = f.ctl({"exec", "web1", "/bin/sh", "-c", "echo '<h1>version 2</h1>' > /www/index.html"});
  INFO(up.out << up.err);
  REQUIRE(up.status == 0);
  // The watch is paused: no heal of the operator's change.
  std::this_thread::sleep_for(2500ms);
  CHECK(f.state_of("web1") == "maintenance");
  RunResult s = f.ctl({"seal", "web1"});
  INFO(s.out << s.err << f.daemon_log());
  REQUIRE(s.status == 0);
  CHECK(s.out.find("golden version 2 sealed") != std::string::npos);
  REQUIRE(f.ctl({"maintain", "web1", "off"}).status == 0);
  CHECK(f.wait_state("web1", "running"));
  CHECK(f.ctl({"check", "web1"}).status == 0);
  CHECK(f.http_get("web1") == v2);

  // A tamper now heals back to version 2, the new golden state.
  size_t from = f.events().size();
  write_text(f.jail_path("web1") + "/www/index.html", "defaced\n");
  CHECK(f.wait_for(
      [&] {
        auto t = f.transitions("web1", from);
        return std::find(t.begin(), t.end(), "restoring") != t.end() && f.http_get("web1") == v2;
      },
      20s));

  // Rollback: version 1 is current again and the jail is restored to it.
  RunResult rb = f.ctl({"rollback", "web1"});
  INFO(rb.out << rb.err << f.daemon_log());
  CHECK(rb.status == 0);
  CHECK(f.wait_for([&] { return f.http_get("web1") == original_page("web1"); }, 20s));
  CHECK(std::filesystem::read_symlink(f.golden("web1") + "/current").filename() == "1.tar.zst");
}

}  // namespace goodcop::test
