// Cgroup tests on the real kernel: limits, OOM inside the jail only, pids limit against a fork
// bomb, freezer, kill-all, stats, destroy and stale cleanup. Every test runs on the host's
// detected layout and, where the host has a v1 freezer, also on a v1-only view of it (the v2
// hierarchy hidden), which exercises the paths of hosts without cgroup2.

#include <catch2/catch.hpp>
#include <sys/stat.h>

#include <chrono>
#include <thread>

#include "base/error.h"
#include "kernel/cgroup.h"
#include "tests/support/support.h"
#include "tests/unit/kernel/res_support.h"

using namespace goodcop;
using goodcop::test::Child;
using namespace std::chrono_literals;

namespace {

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Every place a cgroup named `name` could exist on this host.
std::vector<std::string> candidate_dirs(const std::string& name) {
  CgroupLayout l = CgroupLayout::detect();
  std::vector<std::string> out;
  if (l.v2) out.push_back(l.v2->mount_point + "/goodcop/" + name);
  for (auto& h : l.v1) out.push_back(h.mount_point + "/goodcop/" + name);
  return out;
}

// The end-of-test assertion: nothing of `name` is left in any hierarchy.
void require_no_cgroup(const std::string& name) {
  for (auto& d : candidate_dirs(name)) {
    INFO(d);
    CHECK_FALSE(is_dir(d));
  }
}

// The layouts to run a test on: the host's, and a v1-only view when the host has a v1 freezer.
std::vector<std::pair<std::string, CgroupLayout>> layouts() {
  std::vector<std::pair<std::string, CgroupLayout>> out;
  CgroupLayout host = CgroupLayout::detect();
  out.emplace_back("host", host);
  if (host.v2 && host.v1_for("freezer")) {
    CgroupLayout v1 = host;
    v1.v2.reset();
    out.emplace_back("v1-only", v1);
  }
  return out;
}

// Waits for the child to say "ready" after joining; the child's body starts with this.
void wait_go(int in) { (void)Child::read_line(in); }

}  // namespace

TEST_CASE("cgroup: the layout is detected from mountinfo", "[kernel][cgroup]") {
  CgroupLayout l = CgroupLayout::detect();
  REQUIRE((l.v2.has_value() || !l.v1.empty()));
  if (l.v2) {
    CHECK(l.v2->v2);
    std::string c = read_file(l.v2->mount_point + "/cgroup.controllers");
    for (auto& ctrl : l.v2->controllers) CHECK(c.find(ctrl) != std::string::npos);
  }
  for (auto& h : l.v1) {
    CHECK_FALSE(h.v2);
    CHECK(is_dir(h.mount_point));
    REQUIRE_FALSE(h.controllers.empty());
    // A controller is on v1 or on v2, never both (cgroup-v2.rst "Controllers").
    for (auto& ctrl : h.controllers) CHECK_FALSE(l.v2_has(ctrl));
  }
}

TEST_CASE("cgroup: bad names and limits are refused before anything is created",
          "[kernel][cgroup]") {
  CHECK_THROWS_WITH(JailCgroup::create("../x", {}),
                    "cgroup name '../x' is invalid (expected 1-64 of [A-Za-z0-9_.-])");
  CHECK_THROWS_WITH(JailCgroup::create("", {}),
                    "cgroup name '' is invalid (expected 1-64 of [A-Za-z0-9_.-])");
  Limits l;
  l.cpu_millis = 5;
  CHECK_THROWS_WITH(JailCgroup::create("res-cpu", l),
                    "cgroup 'res-cpu': cpu limit below 0.01 cpu (the kernel's minimum quota)");
  CgroupLayout none;  // a host without cgroups
  Limits m;
  m.memory_bytes = 1 << 20;
  CHECK_THROWS_WITH(JailCgroup::create("res-none", m, none),
                    "cgroup 'res-none': the host has no 'memory' controller (needed for the "
                    "memory limit)");
}

TEST_CASE("cgroup: limits are written and destroy removes every directory",
          "[kernel][cgroup][root]") {
  GOODCOP_REQUIRE_ROOT();
  for (auto& [label, layout] : layouts()) {
    INFO(label);
    Limits lim;
    lim.memory_bytes = 64u << 20;
    lim.pids = 32;
    lim.cpu_millis = 500;
    JailCgroup cg = JailCgroup::create("res-limits", lim, layout);
    std::vector<std::string> dirs = cg.dirs();
    REQUIRE_FALSE(dirs.empty());
    for (auto& d : dirs) CHECK(is_dir(d));
    CgroupStats s = cg.stats();
    CHECK(s.memory_max == std::optional<uint64_t>(64u << 20));
    CHECK(s.pids_max == std::optional<uint64_t>(32));
    CHECK(s.pids_current == std::optional<uint64_t>(0));
    // The CPU quota: 0.5 CPU = 50 ms per 100 ms period, in whichever file this host uses.
    bool cpu_seen = false;
    for (auto& d : dirs) {
      if (is_dir(d) && ::access((d + "/cpu.max").c_str(), F_OK) == 0) {
        CHECK(read_file(d + "/cpu.max") == "50000 100000\n");
        cpu_seen = true;
      } else if (::access((d + "/cpu.cfs_quota_us").c_str(), F_OK) == 0) {
        CHECK(read_file(d + "/cpu.cfs_quota_us") == "50000\n");
        CHECK(read_file(d + "/cpu.cfs_period_us") == "100000\n");
        cpu_seen = true;
      }
    }
    CHECK(cpu_seen);
    // A second jail by the same name is refused while the first lives.
    try {
      JailCgroup::create("res-limits", lim, layout);
      FAIL("created twice");
    } catch (const Error& e) {
      CHECK(std::string(e.what()) == "cgroup 'res-limits' already exists ('" + dirs[0] + "')");
    }
    cg.destroy();
    for (auto& d : dirs) CHECK_FALSE(is_dir(d));
    CHECK(cg.dirs().empty());
    cg.destroy();  // idempotent
  }
  require_no_cgroup("res-limits");
}

TEST_CASE("cgroup: a memory hog is OOM-killed inside the jail only", "[kernel][cgroup][root]") {
  GOODCOP_REQUIRE_ROOT();
  for (auto& [label, layout] : layouts()) {
    INFO(label);
    Limits lim;
    lim.memory_bytes = 32u << 20;
    JailCgroup cg = JailCgroup::create("res-oom", lim, layout);
    Child sibling([](int in, int) {
      wait_go(in);
      ::pause();
      return 0;
    });
    Child hog([](int in, int) {
      wait_go(in);
      // Touch 256 MiB, 1 MiB at a time: far above the 32 MiB limit, far below the host's RAM.
      for (int i = 0; i < 256; ++i) {
        auto* p = static_cast<char*>(std::malloc(1 << 20));
        if (p == nullptr) return 3;
        for (size_t j = 0; j < (1u << 20); j += 4096) p[j] = 1;
      }
      return 0;  // survived: the limit did not work
    });
    cg.add(sibling.pid());
    cg.add(hog.pid());
    sibling.send("go");
    hog.send("go");
    int st = hog.wait();
    REQUIRE(WIFSIGNALED(st));
    CHECK(WTERMSIG(st) == SIGKILL);
    CgroupStats s = cg.stats();
    REQUIRE(s.oom_kills.has_value());
    CHECK(*s.oom_kills >= 1);
    CHECK(s.memory_peak.value_or(0) <= (32u << 20));
    // The OOM killer chose inside the jail, and only the hog: the sibling still runs.
    CHECK_FALSE(test::dead(sibling.pid()));
    cg.destroy();
    CHECK(test::wait_dead(sibling.pid()));
  }
  require_no_cgroup("res-oom");
}

TEST_CASE("cgroup: a fork bomb stops at the pids limit", "[kernel][cgroup][root]") {
  GOODCOP_REQUIRE_ROOT();
  for (auto& [label, layout] : layouts()) {
    INFO(label);
    Limits lim;
    lim.pids = 16;
    JailCgroup cg = JailCgroup::create("res-pids", lim, layout);
    Child bomb([](int in, int out) {
      wait_go(in);
      int forks = 0;
      for (int i = 0; i < 1000; ++i) {
        pid_t p = ::fork();
        if (p == 0) {
          ::pause();
          ::_exit(0);
        }
        if (p < 0) {
          Child::write_line(out, std::to_string(forks) + " " + std::to_string(errno));
          ::pause();
          return 0;
        }
        ++forks;
      }
      Child::write_line(out, "unlimited");
      ::pause();
      return 0;
    });
    cg.add(bomb.pid());
    bomb.send("go");
    std::string report = bomb.recv();
    // 16 tasks: the bomb itself and 15 children; fork #16 fails with EAGAIN (pids.max).
    CHECK(report == "15 " + std::to_string(EAGAIN));
    CHECK(cg.pids().size() == 16);
    CHECK(cg.stats().pids_current == std::optional<uint64_t>(16));
    // The host is unaffected: this process still forks.
    Child free_child([](int, int) { return 7; });
    int st = free_child.wait();
    CHECK((WIFEXITED(st) && WEXITSTATUS(st) == 7));
    cg.kill_all();
    CHECK(cg.pids().empty());
    cg.destroy();
  }
  require_no_cgroup("res-pids");
}

TEST_CASE("cgroup: freeze stops CPU time from growing and thaw resumes it",
          "[kernel][cgroup][root]") {
  GOODCOP_REQUIRE_ROOT();
  for (auto& [label, layout] : layouts()) {
    INFO(label);
    JailCgroup cg = JailCgroup::create("res-freeze", {}, layout);
    Child spinner([](int in, int out) {
      wait_go(in);
      pid_t kid = ::fork();  // a second spinner: freezing covers every process of the jail
      if (kid < 0) return 3;
      if (kid > 0) Child::write_line(out, std::to_string(kid));
      for (unsigned long i = 0;; ++i) asm volatile("" : "+r"(i));  // spin, not optimized out
    });
    cg.add(spinner.pid());
    spinner.send("go");
    pid_t kid = std::stoi(spinner.recv());
    std::this_thread::sleep_for(100ms);
    CHECK_FALSE(cg.frozen());
    cg.freeze();
    CHECK(cg.frozen());
    auto a1 = test::cpu_ticks(spinner.pid()), b1 = test::cpu_ticks(kid);
    std::this_thread::sleep_for(300ms);
    CHECK(test::cpu_ticks(spinner.pid()) == a1);
    CHECK(test::cpu_ticks(kid) == b1);
    cg.thaw();
    CHECK_FALSE(cg.frozen());
    std::this_thread::sleep_for(300ms);
    CHECK(test::cpu_ticks(spinner.pid()) > a1);
    CHECK(test::cpu_ticks(kid) > b1);
    // CPU usage is accounted to the jail.
    CHECK(cg.stats().cpu_usage_ns.value_or(0) > 0);
    // Killing a frozen jail works too (v1: SIGKILL takes effect on thaw).
    cg.freeze();
    cg.kill_all();
    CHECK(cg.pids().empty());
    CHECK(test::wait_dead(kid));
    cg.destroy();
  }
  require_no_cgroup("res-freeze");
}

TEST_CASE("cgroup: kill_all leaves no process", "[kernel][cgroup][root]") {
  GOODCOP_REQUIRE_ROOT();
  for (auto& [label, layout] : layouts()) {
    INFO(label);
    JailCgroup cg = JailCgroup::create("res-kill", {}, layout);
    Child parent([](int in, int out) {
      wait_go(in);
      std::string kids;
      for (int i = 0; i < 5; ++i) {
        pid_t p = ::fork();
        if (p == 0) {
          ::setsid();  // a daemonizing process does not escape either
          ::pause();
          ::_exit(0);
        }
        kids += std::to_string(p) + " ";
      }
      Child::write_line(out, kids);
      ::pause();
      return 0;
    });
    cg.add(parent.pid());
    parent.send("go");
    std::string kids = parent.recv();
    REQUIRE(cg.pids().size() == 6);
    cg.kill_all();
    CHECK(cg.pids().empty());
    int st = parent.wait();
    CHECK((WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL));
    size_t pos = 0;
    while (pos < kids.size()) {
      size_t end = kids.find(' ', pos);
      pid_t p = std::stoi(kids.substr(pos, end - pos));
      CHECK(test::wait_dead(p));
      pos = end + 1;
    }
    cg.destroy();
  }
  require_no_cgroup("res-kill");
}

TEST_CASE("cgroup: stats report memory, pids and cpu", "[kernel][cgroup][root]") {
  GOODCOP_REQUIRE_ROOT();
  for (auto& [label, layout] : layouts()) {
    INFO(label);
    JailCgroup cg = JailCgroup::create("res-stats", {}, layout);
    Child worker([](int in, int out) {
      wait_go(in);
      auto* p = static_cast<char*>(std::malloc(8 << 20));
      for (size_t j = 0; j < (8u << 20); j += 4096) p[j] = 1;
      for (long i = 0; i < 50000000; ++i) asm volatile("" : "+r"(i));
      Child::write_line(out, "done");
      ::pause();
      return 0;
    });
    cg.add(worker.pid());
    worker.send("go");
    REQUIRE(worker.recv() == "done");
    CgroupStats s = cg.stats();
    CHECK(s.memory_current.value_or(0) >= (8u << 20));
    CHECK(s.memory_peak.value_or(0) >= (8u << 20));
    CHECK_FALSE(s.memory_max.has_value());  // unlimited
    CHECK(s.pids_current == std::optional<uint64_t>(1));
    CHECK_FALSE(s.pids_max.has_value());
    CHECK(s.cpu_usage_ns.value_or(0) > 10'000'000);  // > 10 ms of the busy loop
    CHECK(s.oom_kills == std::optional<uint64_t>(0));
    REQUIRE(cg.pids() == std::vector<pid_t>{worker.pid()});
  }
  require_no_cgroup("res-stats");
}

TEST_CASE("cgroup: a child joins by itself through fds opened in advance",
          "[kernel][cgroup][root]") {
  GOODCOP_REQUIRE_ROOT();
  JailCgroup cg = JailCgroup::create("res-join", {});
  CgroupJoinFds fds = cg.join_fds();
  REQUIRE(fds.procs.size() == cg.dirs().size());
  Child joiner([&fds](int, int out) {
    Child::write_line(out, std::to_string(join_self(fds)));
    ::pause();
    return 0;
  });
  CHECK(joiner.recv() == "0");
  CHECK(cg.pids() == std::vector<pid_t>{joiner.pid()});
  // Every hierarchy lists it (v1 and v2 memberships are independent).
  for (auto& d : cg.dirs()) CHECK(read_file(d + "/cgroup.procs") == std::to_string(joiner.pid()) + "\n");
}

TEST_CASE("cgroup: clean_stale removes a crashed run's cgroups and processes",
          "[kernel][cgroup][root]") {
  GOODCOP_REQUIRE_ROOT();
  JailCgroup::clean_stale("res-stale");  // a previous failed run of this very test
  // A "crashed supervisor": creates the cgroup, starts a process in it, dies without cleanup.
  Child crashed([](int, int out) {
    JailCgroup cg = JailCgroup::create("res-stale", {});
    pid_t p = ::fork();
    if (p == 0) {
      ::pause();
      ::_exit(0);
    }
    cg.add(p);
    Child::write_line(out, std::to_string(p));
    ::_exit(0);  // no destructors: the cgroup and its process stay behind
    return 0;
  });
  pid_t orphan = std::stoi(crashed.recv());
  crashed.wait();
  std::vector<std::string> left;
  for (auto& d : candidate_dirs("res-stale"))
    if (is_dir(d)) left.push_back(d);
  REQUIRE_FALSE(left.empty());
  CHECK_FALSE(test::dead(orphan));
  JailCgroup::clean_stale("res-stale");
  // The orphan is reparented to the host's init, which reaps it; wait a moment for that.
  CHECK(test::wait_dead(orphan));
  require_no_cgroup("res-stale");
  JailCgroup::clean_stale("res-stale");  // nothing left: a no-op
}
