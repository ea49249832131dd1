// The jail's end: goodcop's init kills and reaps every other process of the jail once the
// command is gone, then reports the command's status before it exits itself
// (Jail::wait_command, Jail::release); `goodcop jail` returns at that report.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "kernel/jail.h"
#include "kernel/proc.h"
#include "tests/support/support.h"
#include "tests/unit/kernel/jail_fixture.h"

using namespace goodcop;
using namespace goodcop::test;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

struct NsProcess {
  pid_t pid = 0;
  std::string comm;
  std::string nspid;  // the last field of NSpid: the pid inside the jail
};

// Every host process whose PID namespace is `ns` (as readlink shows it: "pid:[4026532...]").
std::vector<NsProcess> processes_in(const std::string& ns) {
  std::vector<NsProcess> found;
  for (pid_t pid : process_ids()) {
    const std::string dir = "/proc/" + std::to_string(pid);
    char buf[64];
    ssize_t n = ::readlink((dir + "/ns/pid").c_str(), buf, sizeof buf);
    if (n <= 0 || std::string(buf, static_cast<size_t>(n)) != ns) continue;
    NsProcess p;
    p.pid = pid;
    p.comm = slurp(dir + "/comm");
    std::istringstream status(slurp(dir + "/status"));
    for (std::string line; std::getline(status, line);)
      if (line.rfind("NSpid:", 0) == 0) p.nspid = line.substr(line.find_last_of(" \t") + 1);
    found.push_back(p);
  }
  return found;
}

// A command that leaves a child behind (detached from our pipes, so a pipe's EOF does not wait
// for it) and prints its PID namespace.
const char* kLeavesAChild = "sleep 1000 </dev/null >/dev/null 2>&1 & readlink /proc/self/ns/pid; ";

}  // namespace

TEST_CASE("goodcop jail returns the command's status once no other process of the jail is left",
          "[kernel][cli][init][root]") {
  GOODCOP_REQUIRE_ROOT();
  struct Case {
    std::string user, tail;
    int status;
  };
  // uid 1000: the init (jail root) needs CAP_KILL to kill another uid's processes; without it
  // the init would wait for the sleep, and timeout(1) stops the test instead of a hang.
  for (const Case& c : {Case{"0", "exit 3", 3}, Case{"1000", "exit 3", 3},
                        Case{"0", "kill -KILL $$", 137}, Case{"1000", "kill -TERM $$", 143}}) {
    INFO("user " << c.user << ": " << c.tail);
    RunResult r = run({"/usr/bin/timeout", "-s", "KILL", "60", GOODCOP_BINARY, "jail", "-u", c.user,
                       jail_rootfs(), "h", "-", "sh", "-c", kLeavesAChild + c.tail});
    CHECK(r.err == "");
    CHECK(r.status == c.status);
    REQUIRE(r.out.rfind("pid:[", 0) == 0);
    const std::string ns = r.out.substr(0, r.out.size() - 1);
    // goodcop jail has returned: the init may still be on its way out (the kernel tearing
    // down the jail's namespaces), nothing else.
    for (const NsProcess& p : processes_in(ns)) {
      INFO("left in the jail: pid " << p.pid << " " << p.comm);
      CHECK(p.nspid == "1");
    }
  }
}

TEST_CASE("wait_command reports the command's status with no other process of the jail left",
          "[kernel][jail][init][root]") {
  GOODCOP_REQUIRE_ROOT();
  // As root: the uid 1000 case (CAP_KILL) is the CLI test's, which has timeout(1) as a guard.
  kernel::JailSpec spec = jail_spec({"sh", "-c", "sleep 1000 </dev/null >/dev/null 2>&1 & exit 5"});
  SECTION("without a cgroup: released, the init reaped by the caller") {
    kernel::Jail jail = kernel::start(spec, jail_helper());
    const pid_t init = jail.pid();
    CHECK(jail.wait_command() == 5);
    std::vector<pid_t> left = kernel::pids_in_pid_namespace_of(init);
    CHECK((left.empty() || left == std::vector<pid_t>{init}));
    REQUIRE(jail.release());
    int st = 0;
    REQUIRE(::waitpid(init, &st, 0) == init);
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 5);
  }
  SECTION("with a cgroup: not released, wait() reaps") {
    spec.cgroup = true;
    kernel::Jail jail = kernel::start(spec, jail_helper());
    CHECK(jail.wait_command() == 5);
    CHECK(jail.pids().size() <= 1);
    CHECK_FALSE(jail.release());
    CHECK(jail.wait() == 5);
    CHECK(jail.wait_command() == 5);
  }
}

TEST_CASE("wait_command without goodcop's init is wait()", "[kernel][jail][init][root]") {
  GOODCOP_REQUIRE_ROOT();
  kernel::JailSpec spec = jail_spec({"sh", "-c", "exit 4"});
  spec.init = kernel::InitMode::kJail;
  kernel::Jail jail = kernel::start(spec, jail_helper());
  CHECK(jail.command_fd() == jail.pidfd());
  CHECK(jail.wait_command() == 4);
  CHECK_FALSE(jail.release());
  CHECK(jail.try_wait() == 4);
}

TEST_CASE("goodcop's init keeps only CAP_KILL", "[kernel][jail][init][caps][root]") {
  GOODCOP_REQUIRE_ROOT();
  // The init drops its capabilities right after forking the command: wait for the change.
  JailRun r = run_jail(jail_spec(
      {"sh", "-c",
       "i=0; while [ $i -lt 500 ] && grep -q '^CapEff:.*fff$' /proc/1/status; do sleep 0.01; "
       "i=$((i+1)); done; grep -E '^Cap(Prm|Eff)' /proc/1/status"}));
  CHECK(r.out == "CapPrm:\t0000000000000020\nCapEff:\t0000000000000020\n");
  CHECK(r.status == 0);
}
