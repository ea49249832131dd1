// adopt(): a restarted daemon takes over the jails its crashed predecessor left running,
// and nothing else.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <optional>

#include "base/error.h"
#include "base/fd.h"
#include "base/scope_exit.h"
#include "kernel/cgroup.h"
#include "kernel/jail.h"
#include "kernel/net.h"
#include "tests/support/support.h"
#include "tests/unit/kernel/jail_fixture.h"

using namespace goodcop;
using namespace goodcop::test;

namespace {

// Reads one line from fd (blocking).
std::string read_line(int fd) {
  std::string s;
  char c = 0;
  while (::read(fd, &c, 1) == 1 && c != '\n') s += c;
  return s;
}

// True while `pid` (our child) has not exited.
bool running(pid_t pid) { return ::waitpid(pid, nullptr, WNOHANG) == 0; }

void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

}  // namespace

TEST_CASE("adopt takes over a jail whose starting process was killed",
          "[kernel][jail][adopt][root]") {
  GOODCOP_REQUIRE_ROOT();
  UnreachableRoute guard(parse_address("198.18.0.0/15").value);
  kernel::JailSpec spec = jail_spec({"sh", "-c", "echo ready; exec sleep 1000"});
  spec.name = "t-adopt-" + std::to_string(::getpid());
  spec.cgroup = true;
  spec.die_with_parent = false;  // what the daemon does: its jails outlive it
  spec.net = kernel::NetMode::kVeth;
  spec.addresses = {parse_address("198.18.7.4").value};
  const kernel::Helper& helper = jail_helper();
  auto mounts_before = host_mounts();
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  UniqueFd out_r(p[0]), out_w(p[1]);
  spec.stdio[1] = out_w.get();

  // The "daemon": starts the jail, then dies without a chance to clean up.
  pid_t daemon = ::fork();
  REQUIRE(daemon >= 0);
  if (daemon == 0) {
    try {
      kernel::Jail jail = kernel::start(spec, helper);
      for (;;) ::pause();
    } catch (...) {
      ::_exit(1);
    }
  }
  out_w.reset();
  REQUIRE(read_line(out_r.get()) == "ready");
  kill_and_reap(daemon);

  std::optional<kernel::Jail> jail = kernel::adopt(spec);
  REQUIRE(jail.has_value());
  CHECK(jail->adopted());
  CHECK(jail->name() == spec.name);
  CHECK(jail->pids().size() == 2);  // init and sleep
  REQUIRE(jail->cgroup() != nullptr);
  REQUIRE(jail->veth() != nullptr);
  const std::vector<std::string> dirs = jail->cgroup()->dirs();
  const std::string host_if = jail->veth()->host_name();
  CHECK(host_if == veth_host_name(spec.name));

  jail->freeze();
  CHECK(jail->cgroup()->frozen());
  jail->thaw();
  CHECK(!jail->cgroup()->frozen());

  int e[2];
  REQUIRE(::pipe2(e, O_CLOEXEC) == 0);
  UniqueFd enter_r(e[0]), enter_w(e[1]);
  kernel::EnterOptions opts;
  opts.stdio[1] = enter_w.get();
  int rc = kernel::enter(
      *jail, {"sh", "-c", "hostname; pidof sleep >/dev/null && echo sees-sleep; ip -o -4 addr"},
      opts, helper);
  enter_w.reset();
  CHECK(rc == 0);
  std::string seen = read_until_eof(enter_r.get());
  CHECK(seen.rfind("jailhost\nsees-sleep\n", 0) == 0);
  CHECK(seen.find("198.18.7.4/32") != std::string::npos);

  CHECK(!jail->try_wait().has_value());
  jail->kill_all();
  CHECK(jail->wait() == kernel::kExitUnknown);
  CHECK(jail->try_wait() == kernel::kExitUnknown);
  CHECK(jail->pids().empty());
  jail.reset();
  for (const auto& d : dirs) CHECK(::access(d.c_str(), F_OK) != 0);
  CHECK(RtNetlink::open().link_index(host_if) == 0);
  CHECK(host_mounts() == mounts_before);
  // Nothing left for a second adopter.
  CHECK(!kernel::adopt(spec).has_value());
}

TEST_CASE("adopt finds nothing when no jail of that name runs", "[kernel][jail][adopt][root]") {
  GOODCOP_REQUIRE_ROOT();
  kernel::JailSpec spec = jail_spec({"true"});
  spec.name = "t-none-" + std::to_string(::getpid());
  spec.cgroup = true;
  CHECK(!kernel::adopt(spec).has_value());
  // A jail that ended normally leaves nothing to adopt either.
  {
    kernel::Jail j = kernel::start(spec, jail_helper());
    CHECK(j.wait() == 0);
  }
  CHECK(!kernel::adopt(spec).has_value());
}

TEST_CASE("adopt refuses processes that merely sit in a jail's cgroup",
          "[kernel][jail][adopt][root]") {
  GOODCOP_REQUIRE_ROOT();
  kernel::JailSpec spec = jail_spec({"true"});
  spec.name = "t-fake-" + std::to_string(::getpid());
  // goodcop/NAME exactly as goodcop makes it, holding (1) an ordinary process, and (2) the
  // init of a PID namespace with mount, UTS, IPC, cgroup and network namespaces of its own,
  // as root could make by hand, but without the jail's user namespace and id range.
  std::optional<JailCgroup> cg = JailCgroup::create(spec.name, {});
  pid_t plain = ::fork();
  REQUIRE(plain >= 0);
  if (plain == 0) {
    for (;;) ::pause();
  }
  ScopeExit reap_plain([&] { kill_and_reap(plain); });
  const unsigned long flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                              CLONE_NEWCGROUP | CLONE_NEWNET | SIGCHLD;
  pid_t fake_init =
      static_cast<pid_t>(::syscall(SYS_clone, flags, nullptr, nullptr, nullptr, nullptr));
  REQUIRE(fake_init >= 0);
  if (fake_init == 0) {
    for (;;) ::pause();
  }
  ScopeExit reap_fake([&] { kill_and_reap(fake_init); });
  cg->add(plain);
  cg->add(fake_init);
  const std::vector<std::string> dirs = cg->dirs();
  REQUIRE(cg->pids().size() == 2);

  CHECK(!kernel::adopt(spec).has_value());
  // adopt touched nothing: both processes run on, the cgroup is still there.
  CHECK(running(plain));
  CHECK(running(fake_init));
  for (const auto& d : dirs) CHECK(::access(d.c_str(), F_OK) == 0);
  cg.reset();  // kills both and removes the cgroup
  for (const auto& d : dirs) CHECK(::access(d.c_str(), F_OK) != 0);
}
