// Escapes, as an attacker in the jail would try them. Each runs kernel_probe (static, in
// the rootfs) which stops at proving access; every test fails if the escape works. Most
// run both with the user namespace (the default) and without it (the documented weaker
// opt-out, where root is host root with the muzzle only).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>

#include <catch2/catch.hpp>

#include "base/error.h"
#include "base/fd.h"
#include "kernel/jail.h"
#include "tests/support/support.h"
#include "tests/unit/kernel/jail_fixture.h"

using namespace goodcop;
using namespace goodcop::test;

namespace {

// Runs kernel_probe ARGS in a jail; returns its output after checking it was blocked.
std::string probe(std::vector<std::string> args, bool userns, uint32_t uid = 0) {
  args.insert(args.begin(), "kernel_probe");
  kernel::JailSpec spec = jail_spec(args);
  spec.userns = userns;
  spec.uid = uid;
  spec.gid = uid;
  JailRun r = run_jail(spec);
  INFO("userns=" << userns << " out: " << r.out << " err: " << r.err);
  CHECK(r.out.find("ACCESS") == std::string::npos);
  CHECK(r.out.find("blocked") != std::string::npos);
  CHECK(r.status == 0);
  return r.out;
}

}  // namespace

TEST_CASE("escape: a double chroot stays in the jail", "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  TempDir marker;  // exists on the host only
  probe({"chroot-escape", marker.path()}, GENERATE(true, false));
}

TEST_CASE("escape: an inherited directory fd does not lead out", "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  bool userns = GENERATE(true, false);
  TempDir marker;
  // fd 50 on the host's /, without O_CLOEXEC, as a careless daemon library might leave it.
  int fd = ::open("/", O_RDONLY | O_DIRECTORY);
  REQUIRE(fd >= 0);
  REQUIRE(::dup2(fd, 50) == 50);
  ::close(fd);
  UniqueFd guard(50);
  probe({"fd-escape", "50", marker.path().substr(1)}, userns);
}

TEST_CASE("escape: mknod of the host's disk, then reading it", "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  struct stat st {};
  REQUIRE(::stat("/", &st) == 0);
  std::string dev = std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
  probe({"mknod-disk", dev}, GENERATE(true, false));
}

TEST_CASE("escape: mounting proc, sysfs or tmpfs", "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  std::string out = probe({"mount"}, GENERATE(true, false));
  CHECK(out ==
        "blocked: proc: Operation not permitted\n"
        "blocked: sysfs: Operation not permitted\n"
        "blocked: tmpfs: Operation not permitted\n");
}

TEST_CASE("escape: /proc/*/root and cwd all lead to the jail's root", "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  probe({"proc-roots"}, GENERATE(true, false));
}

TEST_CASE("escape: signalling or ptracing a host process", "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  bool userns = GENERATE(true, false);
  pid_t victim = ::fork();
  REQUIRE(victim >= 0);
  if (victim == 0) {
    ::pause();
    ::_exit(0);
  }
  std::string out = probe({"host-process", std::to_string(victim)}, userns);
  ::kill(victim, SIGKILL);
  ::waitpid(victim, nullptr, 0);
  CHECK(out.find("blocked: kill: No such process") != std::string::npos);
}

TEST_CASE("escape: open_by_handle_at", "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  probe({"open_by_handle_at"}, GENERATE(true, false));
}

TEST_CASE("escape: kernel module loading", "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  probe({"module"}, GENERATE(true, false));
}

TEST_CASE("escape: kexec", "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  probe({"kexec"}, GENERATE(true, false));
}

TEST_CASE("escape: reboot", "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  probe({"reboot"}, GENERATE(true, false));
}

TEST_CASE("escape: swapon", "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  probe({"swapon"}, GENERATE(true, false));
}

TEST_CASE("escape: setting the clock", "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  probe({"clock"}, GENERATE(true, false));
}

TEST_CASE("escape: writing /proc/sys/kernel/core_pattern", "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  probe({"write", "/proc/sys/kernel/core_pattern"}, GENERATE(true, false));
}

TEST_CASE("escape: writing below /sys", "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  bool userns = GENERATE(true, false);
  probe({"write", "/sys/kernel/uevent_helper"}, userns);
  probe({"write", "/sys/fs/cgroup/cgroup.procs"}, userns);
}

TEST_CASE("escape: unshare(CLONE_NEWUSER) then mount", "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  probe({"userns-mount"}, GENERATE(true, false));
  probe({"new-namespace"}, true);
}

TEST_CASE("escape: raw and packet sockets", "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  probe({"raw-socket"}, GENERATE(true, false));
}

TEST_CASE("escape: bpf", "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  probe({"bpf"}, GENERATE(true, false));
}

TEST_CASE("escape: perf_event_open", "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  probe({"perf_event_open"}, GENERATE(true, false));
}

TEST_CASE("escape: keyctl", "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  probe({"keyctl"}, GENERATE(true, false));
}

TEST_CASE("escape: userfaultfd", "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  probe({"userfaultfd"}, GENERATE(true, false));
}

TEST_CASE("escape: io_uring", "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  probe({"io_uring"}, GENERATE(true, false));
}

TEST_CASE("escape: a setuid binary gives an unprivileged jail user no privilege",
          "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  bool userns = GENERATE(true, false);
  kernel::JailSpec spec = jail_spec({"suid_probe", "euid"});
  spec.userns = userns;
  spec.uid = spec.gid = 1000;
  JailRun r = run_jail(spec);
  CHECK(r.out == "euid=1000\n");
  CHECK(r.status == 0);
}

TEST_CASE("escape: changing the host's hostname", "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  utsname before{};
  ::uname(&before);
  probe({"sethostname"}, GENERATE(true, false));
  utsname after{};
  ::uname(&after);
  CHECK(std::string(after.nodename) == before.nodename);
}

TEST_CASE("escape: rewriting the host's goodcop binary through /proc/1/exe",
          "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  bool userns = GENERATE(true, false);
  struct stat before {}, helper_before {};
  REQUIRE(::stat(GOODCOP_BINARY, &before) == 0);
  REQUIRE(::stat(GOODCOP_JAIL_HELPER, &helper_before) == 0);
  std::string bytes = read_file(GOODCOP_BINARY, size_t{1} << 30);  // ASan builds are >100 MB
  std::string helper = read_file(GOODCOP_JAIL_HELPER, size_t{1} << 30);
  // The init runs the helper itself (no copy), from a read-only mount of it (EROFS once
  // nothing runs it, "Helper is a read-only mount" and the init test); while it runs, the
  // kernel says ETXTBSY first, and without a user namespace the init's /proc/1/exe isn't
  // even open to the jail's root (EACCES: ptrace access check).
  std::string out = probe({"write", "/proc/1/exe"}, userns);
  CHECK(out.rfind("blocked: /proc/1/exe: ", 0) == 0);
  struct stat after {}, helper_after {};
  REQUIRE(::stat(GOODCOP_BINARY, &after) == 0);
  CHECK(after.st_mtim.tv_sec == before.st_mtim.tv_sec);
  CHECK(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
  CHECK(read_file(GOODCOP_BINARY, size_t{1} << 30) == bytes);
  REQUIRE(::stat(GOODCOP_JAIL_HELPER, &helper_after) == 0);
  CHECK(helper_after.st_mtim.tv_sec == helper_before.st_mtim.tv_sec);
  CHECK(helper_after.st_mtim.tv_nsec == helper_before.st_mtim.tv_nsec);
  CHECK(read_file(GOODCOP_JAIL_HELPER, size_t{1} << 30) == helper);
}

TEST_CASE("escape: no process the jail sees can be rewritten through /proc/PID/exe",
          "[kernel][escape][root]") {
  GOODCOP_REQUIRE_ROOT();
  // pid 1 is goodcop's init (the helper, from a read-only mount), pid 2 the probe itself
  // (/proc/self/exe). Nothing else of goodcop is visible.
  std::string out = probe({"write-exes"}, GENERATE(true, false));
  CHECK(out.find("blocked: /proc/1/exe: ") != std::string::npos);
  CHECK(out.find("blocked: /proc/2/exe: ") != std::string::npos);
}

TEST_CASE("escape: a syscall through another ABI (x32) kills the process",
          "[kernel][escape][seccomp][root]") {
  GOODCOP_REQUIRE_ROOT();
  JailRun r = run_jail(jail_spec({"kernel_probe", "x32"}));
  CHECK(r.out == "");
  CHECK(r.status == 128 + SIGSYS);
}
