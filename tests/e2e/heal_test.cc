// End to end, as root: the daemon supervising busybox httpd jails on their own addresses.
// A file in a jail is changed four ways; each time the deviation is caught, evidence is
// written and verifies, the jail is restarted and serves its original page again, and the
// events tell the story in order. Then the other reactions (freeze, alert), a crash loop,
// persistent data across a heal, and the operator's verbs on a live daemon.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <thread>

#include "tests/e2e/daemon_fixture.h"

namespace goodcop::test {
namespace {

using namespace std::chrono_literals;

// Two check intervals of 1 s, plus room for a heal under a sanitizer on a loaded machine.
constexpr auto kHealWithin = 20s;

bool contains_in_order(const std::vector<std::string>& seq, const std::vector<std::string>& want) {
  size_t i = 0;
  for (const auto& s : seq)
    if (i < want.size() && s == want[i]) ++i;
  return i == want.size();
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

// The evidence path of the first event of `jail` from event `from` on that names one.
std::string evidence_of(const DaemonFixture& f, const std::string& jail, size_t from) {
  auto ev = f.events();
  for (size_t i = from; i < ev.size(); ++i)
    if (ev[i].value("jail", "") == jail && !ev[i].value("evidence", "").empty())
      return ev[i]["evidence"].get<std::string>();
  return "";
}

// After a tamper: within two intervals (plus the heal) the jail went through the whole heal,
// the evidence verifies and holds `changed` (when given) and the process list, the jail's
// init is a new process, and the page is the original again.
void expect_healed(DaemonFixture& f, const std::string& jail, size_t from, pid_t old_init,
                   const std::string& changed) {
  const std::vector<std::string> story = {"tampered", "preserving", "restoring", "starting",
                                          "running"};
  bool healed = f.wait_for([&] { return contains_in_order(f.transitions(jail, from), story); },
                           kHealWithin);
  INFO("transitions: " << joined(f.transitions(jail, from)) << "\n" << f.daemon_log());
  REQUIRE(healed);
  std::string bundle = evidence_of(f, jail, from);
  REQUIRE(!bundle.empty());
  RunResult v = run_goodcop({"evidence", "verify", bundle});
  INFO(v.out << v.err);
  CHECK(v.status == 0);
  RunResult show = run_goodcop({"evidence", "show", bundle});
  CHECK(show.out.find("volatile/processes.json") != std::string::npos);
  if (!changed.empty()) CHECK(show.out.find("files/" + changed) != std::string::npos);
  CHECK(f.wait_for([&] { return f.http_get(jail) == original_page(jail); }, 10s));
  pid_t now = f.init_pid(jail);
  CHECK(now != 0);
  CHECK(now != old_init);
}

}  // namespace

TEST_CASE("a page changed from the host side is caught and preserved and healed", "[root][e2e]") {
  GOODCOP_REQUIRE_ROOT();
  DaemonFixture f;
  f.add_jail({});
  f.start_daemon();
  REQUIRE(f.http_get("web1") == original_page("web1"));
  pid_t init = f.init_pid("web1");
  REQUIRE(init != 0);
  size_t from = f.events().size();
  write_text(f.jail_path("web1") + "/www/index.html", "defaced\n");
  expect_healed(f, "web1", from, init, "www/index.html");
}

TEST_CASE("a page changed from inside the jail through goodcop exec is healed", "[root][e2e]") {
  GOODCOP_REQUIRE_ROOT();
  DaemonFixture f;
  f.add_jail({});
  f.start_daemon();
  pid_t init = f.init_pid("web1");
  size_t from = f.events().size();
  RunResult r = f.ctl({"exec", "web1", "/bin/sh", "-c", "echo owned > /www/index.html"});
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  expect_healed(f, "web1", from, init, "www/index.html");
}

TEST_CASE("a file added to the jail is caught and removed by the heal", "[root][e2e]") {
  GOODCOP_REQUIRE_ROOT();
  DaemonFixture f;
  // Plain storage: the host sees the tree with the jail's own ids and may add to it (an
  // overlay with a user namespace refuses files with host ids outside the jail's range).
  JailSetup j;
  j.storage = "plain";
  f.add_jail(j);
  f.start_daemon();
  pid_t init = f.init_pid("web1");
  size_t from = f.events().size();
  write_text(f.jail_path("web1") + "/www/shell.php", "<?php system($_GET['c']);\n");
  expect_healed(f, "web1", from, init, "www/shell.php");
  struct stat st {};
  CHECK(::lstat((f.jail_path("web1") + "/www/shell.php").c_str(), &st) < 0);
}

TEST_CASE("a file deleted from the jail is caught and restored", "[root][e2e]") {
  GOODCOP_REQUIRE_ROOT();
  DaemonFixture f;
  f.add_jail({});
  f.start_daemon();
  pid_t init = f.init_pid("web1");
  size_t from = f.events().size();
  REQUIRE(::unlink((f.jail_path("web1") + "/etc/group").c_str()) == 0);
  expect_healed(f, "web1", from, init, "");
  struct stat st {};
  CHECK(::lstat((f.jail_path("web1") + "/etc/group").c_str(), &st) == 0);
}

TEST_CASE("on_tamper freeze keeps the jail frozen with its processes intact", "[root][e2e]") {
  GOODCOP_REQUIRE_ROOT();
  DaemonFixture f;
  JailSetup j;
  j.on_tamper = "freeze";
  f.add_jail(j);
  f.start_daemon();
  auto before = f.jail_pids("web1");
  REQUIRE(!before.empty());
  size_t from = f.events().size();
  write_text(f.jail_path("web1") + "/www/index.html", "defaced\n");
  REQUIRE(f.wait_state("web1", "frozen", kHealWithin));
  CHECK(!evidence_of(f, "web1", from).empty());
  auto after = f.jail_pids("web1");
  std::sort(before.begin(), before.end());
  std::sort(after.begin(), after.end());
  CHECK(after == before);
  // Frozen: every process is stopped by the freezer, so the page does not come.
  for (pid_t p : after) {
    std::ifstream st("/proc/" + std::to_string(p) + "/stat");
    std::string pid, comm, state;
    st >> pid >> comm >> state;
    CHECK((state == "D" || state == "S" || state == "T"));
  }
  CHECK(f.http_get("web1").empty());
  // The tree is left as found, for the responder.
  std::ifstream page(f.jail_path("web1") + "/www/index.html");
  std::string line;
  std::getline(page, line);
  CHECK(line == "defaced");
}

TEST_CASE("on_tamper alert writes evidence once and leaves the jail running", "[root][e2e]") {
  GOODCOP_REQUIRE_ROOT();
  DaemonFixture f;
  JailSetup j;
  j.on_tamper = "alert";
  f.add_jail(j);
  f.start_daemon();
  pid_t init = f.init_pid("web1");
  size_t from = f.events().size();
  write_text(f.jail_path("web1") + "/www/index.html", "defaced\n");
  REQUIRE(f.wait_for([&] { return !evidence_of(f, "web1", from).empty(); }, kHealWithin));
  // Three more intervals: the same deviation is not reported again, the jail keeps running.
  std::this_thread::sleep_for(3500ms);
  CHECK(f.state_of("web1") == "running");
  CHECK(f.init_pid("web1") == init);
  CHECK(f.http_get("web1") == "defaced\n");
  auto t = f.transitions("web1", from);
  CHECK(std::count(t.begin(), t.end(), "tampered") == 1);
}

TEST_CASE("a jail whose command keeps dying ends in failed and not in a busy loop", "[root][e2e]") {
  GOODCOP_REQUIRE_ROOT();
  DaemonFixture f;
  JailSetup j;
  f.add_jail(j);
  j.start = {"/bin/sh", "-c", "exit 3"};
  f.write_policy(j);
  f.start_daemon(false);
  REQUIRE(f.wait_state("web1", "failed", 30s));
  auto t = f.transitions("web1");
  CHECK(t.back() == "failed");
  auto ev = f.events();
  CHECK(ev.back().value("reason", "").find("crash loop") != std::string::npos);
}

TEST_CASE("persistent data in a keep path survives a heal", "[root][e2e]") {
  GOODCOP_REQUIRE_ROOT();
  DaemonFixture f;
  f.add_jail({});
  f.start_daemon();
  RunResult w = f.ctl({"exec", "web1", "/bin/sh", "-c", "echo kept > /var/uploads/photo.jpg"});
  INFO(w.out << w.err);
  REQUIRE(w.status == 0);
  pid_t init = f.init_pid("web1");
  size_t from = f.events().size();
  write_text(f.jail_path("web1") + "/www/index.html", "defaced\n");
  expect_healed(f, "web1", from, init, "www/index.html");
  RunResult r = f.ctl({"exec", "web1", "/bin/cat", "/var/uploads/photo.jpg"});
  CHECK(r.status == 0);
  CHECK(r.out == "kept\n");
}

// The one lower tree the daemon extracted (named by its archive's digest), or "".
std::string lower_tree(const DaemonFixture& f) {
  std::string found;
  for (const auto& e : std::filesystem::directory_iterator(f.state_dir() + "/lower"))
    if (e.path().filename().string().size() == 64) found = e.path().string();
  return found;
}

std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_CASE("a lower tree damaged on the host side is extracted again and not healed into",
          "[root][e2e]") {
  GOODCOP_REQUIRE_ROOT();
  DaemonFixture f;
  f.add_jail({});
  f.start_daemon();
  int st = f.stop_daemon();
  REQUIRE((WIFEXITED(st) && WEXITSTATUS(st) == 0));
  // While no daemon runs, the disk or someone on the host changes the shared lower tree,
  // which no jail can write. A heal that mounted the same tree again would loop for ever.
  std::string lower = lower_tree(f);
  REQUIRE(!lower.empty());
  write_text(lower + "/www/index.html", "rotted\n");
  size_t from = f.events().size();
  f.start_daemon(false);
  expect_healed(f, "web1", from, 0, "www/index.html");
  // Healed once, and then quiet: checks every second find the tree clean.
  std::this_thread::sleep_for(3s);
  auto t = f.transitions("web1", from);
  INFO("transitions: " << joined(t) << "\n" << f.daemon_log());
  CHECK(std::count(t.begin(), t.end(), "tampered") == 1);
  CHECK(t.back() == "running");
  CHECK(file_text(lower_tree(f) + "/www/index.html") == original_page("web1"));
  CHECK(f.daemon_log().find("differs from the golden archive where no jail can write") !=
        std::string::npos);
}

}  // namespace goodcop::test

namespace goodcop::test {

TEST_CASE("a change trigger catches a write long before the next interval", "[root][e2e]") {
  GOODCOP_REQUIRE_ROOT();
  DaemonFixture f;
  JailSetup j;
  j.interval = "10m";  // only the trigger can bring a check within the test's time
  f.add_jail(j);
  f.start_daemon();
  // Let the first check (right after the start) pass, then write.
  REQUIRE(f.wait_for(
      [&] {
        RunResult r = f.ctl({"status", "--json"});
        return r.out.find("\"last_check\": \"2") != std::string::npos;
      },
      std::chrono::seconds(20)));
  size_t from = f.events().size();
  write_text(f.jail_path("web1") + "/www/index.html", "defaced\n");
  CHECK(f.wait_for(
      [&] {
        auto t = f.transitions("web1", from);
        return std::find(t.begin(), t.end(), "tampered") != t.end();
      },
      std::chrono::seconds(20)));
}

}  // namespace goodcop::test
