// A running jail from the outside: signals, exit status, orphans, kill_all, pids, enter,
// freeze/thaw, the read-only helper, cleanup, and a TCP service on the jail's own address.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "base/error.h"
#include "base/fd.h"
#include "kernel/cgroup.h"
#include "kernel/jail.h"
#include "kernel/net.h"
#include "tests/support/support.h"
#include "tests/unit/kernel/jail_fixture.h"

using namespace goodcop;
using namespace goodcop::test;

namespace {

// A jail whose stdout the test reads as it goes.
struct LiveJail {
  UniqueFd out;
  std::optional<kernel::Jail> jail;
  explicit LiveJail(kernel::JailSpec spec) {
    int p[2];
    check(::pipe2(p, O_CLOEXEC), "pipe2");
    out = UniqueFd(p[0]);
    UniqueFd w(p[1]);
    spec.stdio[1] = w.get();
    jail.emplace(kernel::start(spec, jail_helper()));
  }
  // Reads one line the jail wrote (blocking).
  std::string line() {
    std::string s;
    char c = 0;
    while (::read(out.get(), &c, 1) == 1 && c != '\n') s += c;
    return s;
  }
};

uint64_t cpu_ticks(const std::vector<pid_t>& pids) {
  uint64_t total = 0;
  for (pid_t p : pids) {
    std::ifstream in("/proc/" + std::to_string(p) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), {});
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    for (int i = 3; i <= 15; ++i) {
      rest >> field;
      if (i == 14 || i == 15) total += std::stoull(field);  // utime, stime
    }
  }
  return total;
}

}  // namespace

TEST_CASE("the jail exits with its command's status, 128+N on signal N", "[kernel][jail][root]") {
  GOODCOP_REQUIRE_ROOT();
  CHECK(run_jail(jail_spec({"sh", "-c", "exit 7"})).status == 7);
  CHECK(run_jail(jail_spec({"sh", "-c", "kill -9 $$"})).status == 137);
}

TEST_CASE("init forwards SIGTERM to the command", "[kernel][jail][init][root]") {
  GOODCOP_REQUIRE_ROOT();
  LiveJail j(jail_spec({"sh", "-c", "trap 'exit 42' TERM; echo ready; sleep 100 & wait"}));
  REQUIRE(j.line() == "ready");
  j.jail->signal(SIGTERM);
  CHECK(j.jail->wait() == 42);
}

TEST_CASE("init reaps orphans", "[kernel][jail][init][root]") {
  GOODCOP_REQUIRE_ROOT();
  // The inner sh exits at once, orphaning its background sleep to init; once the sleep
  // exits, only init can reap it.
  JailRun r = run_jail(jail_spec(
      {"sh", "-c",
       "sh -c 'sleep 0.1 &'; sleep 0.5; grep -l '^State:.Z' /proc/[0-9]*/status | wc -l"}));
  CHECK(r.out == "0\n");
}

TEST_CASE("the jail's init runs the helper from a read-only mount, not the host's binary",
          "[kernel][jail][init][root]") {
  GOODCOP_REQUIRE_ROOT();
  LiveJail j(jail_spec({"sh", "-c", "echo ready; sleep 100"}));
  REQUIRE(j.line() == "ready");
  std::string link = "/proc/" + std::to_string(j.jail->pid()) + "/exe";
  // The helper itself, not a copy of it ...
  struct stat exe {}, helper {};
  REQUIRE(::stat(link.c_str(), &exe) == 0);
  REQUIRE(::stat(GOODCOP_JAIL_HELPER, &helper) == 0);
  CHECK(exe.st_ino == helper.st_ino);
  CHECK(exe.st_dev == helper.st_dev);
  // ... on a mount nobody can write through, not even the host's root. While the init runs
  // it, the kernel refuses the write as ETXTBSY; what /proc/PID/exe leads to once the init
  // is gone (a held O_PATH fd) is refused by the mount: EROFS.
  errno = 0;
  CHECK(::open(link.c_str(), O_WRONLY | O_CLOEXEC) == -1);
  CHECK(errno == ETXTBSY);
  UniqueFd held(::open(link.c_str(), O_PATH | O_CLOEXEC));
  REQUIRE(held);
  j.jail->kill_all();
  j.jail->wait();
  std::string reopen = "/proc/self/fd/" + std::to_string(held.get());
  errno = 0;
  CHECK(::open(reopen.c_str(), O_WRONLY | O_CLOEXEC) == -1);
  CHECK(errno == EROFS);
  // The helper file on the host stays writable by its owner (only the mount is read-only).
  CHECK(::access(GOODCOP_JAIL_HELPER, W_OK) == 0);
}

TEST_CASE("kill_all leaves no process and the jail leaves no mount behind",
          "[kernel][jail][cleanup][root]") {
  GOODCOP_REQUIRE_ROOT();
  // The spec first: it mounts the shared test rootfs on first use (each ctest test is its
  // own process), and that mount is the fixture's, not the jail's.
  kernel::JailSpec spec = jail_spec({"sh", "-c", "sleep 100 & sleep 100 & echo ready; wait"});
  auto before = host_mounts();
  {
    LiveJail j(spec);
    REQUIRE(j.line() == "ready");
    auto pids = j.jail->pids();
    CHECK(pids.size() == 4);  // init, sh, two sleeps
    j.jail->kill_all();
    CHECK(j.jail->wait() == 137);
    for (pid_t p : pids) CHECK(::kill(p, 0) != 0);
    CHECK(j.jail->pids().empty());
  }
  CHECK(host_mounts() == before);
}

TEST_CASE("the destructor kills a running jail and removes its cgroup",
          "[kernel][jail][cleanup][root]") {
  GOODCOP_REQUIRE_ROOT();
  kernel::JailSpec spec = jail_spec({"sleep", "100"});
  spec.cgroup = true;
  std::vector<std::string> dirs;
  pid_t init = 0;
  {
    kernel::Jail j = kernel::start(spec, jail_helper());
    REQUIRE(j.cgroup() != nullptr);
    dirs = j.cgroup()->dirs();
    init = j.pid();
    CHECK(!dirs.empty());
  }
  CHECK(::kill(init, 0) != 0);
  for (const auto& d : dirs) CHECK(::access(d.c_str(), F_OK) != 0);
}

TEST_CASE("enter runs a command in a running jail's namespaces, confined",
          "[kernel][jail][enter][root]") {
  GOODCOP_REQUIRE_ROOT();
  LiveJail j(jail_spec({"sh", "-c", "echo ready; sleep 100"}));
  REQUIRE(j.line() == "ready");
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  UniqueFd r(p[0]), w(p[1]);
  kernel::EnterOptions opts;
  opts.uid = 1000;
  opts.stdio[1] = w.get();
  int rc = kernel::enter(*j.jail,
                         {"sh", "-c",
                          "hostname; id -u; pidof sleep >/dev/null && echo sees-sleep; "
                          "grep NoNewPrivs /proc/self/status"},
                         opts, jail_helper());
  w.reset();
  CHECK(rc == 0);
  CHECK(read_until_eof(r.get()) == "jailhost\n1000\nsees-sleep\nNoNewPrivs:\t1\n");
}

TEST_CASE("freeze stops every process in the jail and thaw resumes them",
          "[kernel][jail][cgroup][root]") {
  GOODCOP_REQUIRE_ROOT();
  kernel::JailSpec spec = jail_spec({"sh", "-c", "echo ready; while :; do :; done"});
  spec.cgroup = true;
  LiveJail j(spec);
  REQUIRE(j.line() == "ready");
  auto pids = j.jail->pids();
  j.jail->freeze();
  uint64_t frozen = cpu_ticks(pids);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(cpu_ticks(pids) == frozen);
  j.jail->thaw();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(cpu_ticks(pids) > frozen);
}

TEST_CASE("a fork bomb stops at the jail's pids limit", "[kernel][jail][cgroup][root]") {
  GOODCOP_REQUIRE_ROOT();
  kernel::JailSpec spec = jail_spec({"kernel_probe", "fork", "100"});
  spec.limits.pids = 16;
  JailRun r = run_jail(spec);
  // init and the probe count too (and, for a moment, the setup process, and under ASan the
  // sanitizer's own helpers): at most 14 children, then EAGAIN.
  INFO("probe output: " << r.out);
  std::smatch m;
  REQUIRE(std::regex_match(r.out, m,
                           std::regex("forked=([0-9]+) err=Resource temporarily unavailable\n")));
  CHECK(std::stoi(m[1].str()) <= 14);
  CHECK(std::stoi(m[1].str()) >= 8);
  CHECK(r.status == 0);
  // The host is unaffected.
  pid_t p = ::fork();
  REQUIRE(p >= 0);
  if (p == 0) ::_exit(0);
  ::waitpid(p, nullptr, 0);
}

TEST_CASE("a memory hog is OOM-killed inside the jail only", "[kernel][jail][cgroup][root]") {
  GOODCOP_REQUIRE_ROOT();
  kernel::JailSpec spec =
      jail_spec({"sh", "-c", "head -c 400m /dev/zero | sort >/dev/null; echo status=$?"});
  // 128M: room for init and the setup process even when built with ASan (shadow pages);
  // sort holding a 400M line still cannot fit.
  spec.limits.memory_bytes = 128u << 20;
  JailRun r = run_jail(spec);
  CHECK(r.out == "status=137\n");  // sort (holding 400M) was killed; sh and init were not
  CHECK(r.status == 0);
}

TEST_CASE("a TCP server in the jail is reachable at the jail's address only",
          "[kernel][jail][net][root]") {
  GOODCOP_REQUIRE_ROOT();
  UnreachableRoute guard(parse_address("198.18.0.0/15").value);
  kernel::JailSpec spec = jail_spec({"sh", "-c", "echo ready; echo hello | nc -l -p 8080"});
  spec.net = kernel::NetMode::kVeth;
  spec.addresses = {parse_address("198.18.7.2").value};
  std::string host_if;
  {
    LiveJail j(spec);
    REQUIRE(j.jail->veth() != nullptr);
    host_if = j.jail->veth()->host_name();
    REQUIRE(j.line() == "ready");
    auto connect_to = [](const char* ip) {
      UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(8080);
      ::inet_pton(AF_INET, ip, &a.sin_addr);
      if (::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return std::string();
      return read_until_eof(s.get());
    };
    CHECK(connect_to("127.0.0.1") == "");  // the host's loopback is not the jail's
    std::string got;
    for (int i = 0; i < 50 && got.empty(); ++i) {  // nc may still be getting to listen()
      got = connect_to("198.18.7.2");
      if (got.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK(got == "hello\n");
  }
  CHECK(RtNetlink::open().link_index(host_if) == 0);
}

TEST_CASE("start cleans a crashed previous run's cgroup of the same name",
          "[kernel][jail][cleanup][root]") {
  GOODCOP_REQUIRE_ROOT();
  kernel::JailSpec spec = jail_spec({"true"});
  spec.name = "t-stale-" + std::to_string(::getpid());
  spec.cgroup = true;
  // What a crash leaves behind: goodcop/NAME in every hierarchy, made here by hand.
  CgroupLayout layout = CgroupLayout::detect();
  std::vector<std::string> dirs;
  std::vector<CgroupHierarchy> all = layout.v1;
  if (layout.v2) all.push_back(*layout.v2);
  for (const auto& h : all) {
    ::mkdir((h.mount_point + "/goodcop").c_str(), 0755);
    std::string d = h.mount_point + "/goodcop/" + spec.name;
    if (::mkdir(d.c_str(), 0755) == 0) dirs.push_back(d);
  }
  REQUIRE(!dirs.empty());
  {
    kernel::Jail j = kernel::start(spec, jail_helper());
    CHECK(j.wait() == 0);
  }
  for (const auto& d : dirs) CHECK(::access(d.c_str(), F_OK) != 0);
}
