// The seccomp filter built into goodcop is what libseccomp compiles the rules to, and it
// does what the rules say once loaded (the escape tests probe it from inside jails).
#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>

#include "kernel/seccomp.h"

using namespace goodcop;

TEST_CASE("the built-in seccomp filter is the rules compiled by libseccomp", "[kernel][seccomp]") {
  const auto built = kernel::builtin_seccomp_filter();
  const auto compiled = kernel::compile_seccomp_filter();
  REQUIRE(built.size() == compiled.size());
  for (size_t i = 0; i < built.size(); ++i) {
    INFO("instruction " << i);
    CHECK(built[i].code == compiled[i].code);
    CHECK(built[i].jt == compiled[i].jt);
    CHECK(built[i].jf == compiled[i].jf);
    CHECK(built[i].k == compiled[i].k);
  }
}

TEST_CASE("the built-in seccomp filter refuses what it lists and allows the rest",
          "[kernel][seccomp]") {
  // In a child: a filter can't be removed again.
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(10);
    try {
      kernel::load_seccomp_filter();
    } catch (...) {
      ::_exit(11);
    }
    // Refused: EPERM, before any permission check of the call itself.
    errno = 0;
    if (::syscall(SYS_unshare, CLONE_NEWUSER) != -1 || errno != EPERM) ::_exit(12);
    errno = 0;
    if (::syscall(SYS_mknodat, AT_FDCWD, "/nonexistent/x", S_IFBLK | 0600, 0) != -1 ||
        errno != EPERM)
      ::_exit(13);
    errno = 0;
    if (::syscall(SYS_clone3, nullptr, 0) != -1 || errno != ENOSYS) ::_exit(14);
    // Allowed: a fifo node (fails for its own reason), getpid.
    errno = 0;
    if (::syscall(SYS_mknodat, AT_FDCWD, "/nonexistent/x", S_IFIFO | 0600, 0) != -1 ||
        errno != ENOENT)
      ::_exit(15);
    if (::syscall(SYS_getpid) != ::getpid()) ::_exit(16);
    ::_exit(0);
  }
  int st = 0;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  REQUIRE(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
}
