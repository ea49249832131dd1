// The setup helper: goodcop-jail-helper next to goodcop, exec'd from a read-only detached
// mount of it (root) or a sealed memfd copy (otherwise).
#include <fcntl.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "base/error.h"
#include "kernel/jail.h"
#include "tests/support/support.h"
#include "tests/unit/kernel/jail_fixture.h"

using namespace goodcop;
using namespace goodcop::test;

TEST_CASE("Helper takes goodcop-jail-helper from next to goodcop", "[kernel][helper]") {
  CHECK(jail_helper().source() == GOODCOP_JAIL_HELPER);
  // Without a helper next to it, the binary itself (whose main runs the setup modes).
  TempDir dir;
  write_text(dir / "goodcop", "not really goodcop", 0755);
  CHECK(kernel::Helper(dir / "goodcop").source() == dir / "goodcop");
}

TEST_CASE("Helper is a read-only mount of the helper file, writable by nobody",
          "[kernel][helper][root]") {
  GOODCOP_REQUIRE_ROOT();
  const kernel::Helper& h = jail_helper();
  REQUIRE(h.kind() == kernel::Helper::Kind::kReadOnlyMount);
  // The very file, no copy.
  struct stat fd_st {}, file_st {};
  REQUIRE(::fstat(h.fd(), &fd_st) == 0);
  REQUIRE(::stat(GOODCOP_JAIL_HELPER, &file_st) == 0);
  CHECK(fd_st.st_ino == file_st.st_ino);
  // Reopened for writing (what /proc/PID/exe of a process running it leads to): EROFS, even
  // for root.
  std::string self = "/proc/self/fd/" + std::to_string(h.fd());
  errno = 0;
  CHECK(::open(self.c_str(), O_WRONLY | O_CLOEXEC) == -1);
  CHECK(errno == EROFS);
  // Not attached anywhere: no path of the host leads to this mount.
  CHECK(read_file("/proc/self/mountinfo").find(" " GOODCOP_JAIL_HELPER " ") == std::string::npos);
}

TEST_CASE("Helper falls back to a sealed memfd copy where it may not mount",
          "[kernel][helper][root]") {
  GOODCOP_REQUIRE_ROOT();
  // As an unprivileged user (open_tree(OPEN_TREE_CLONE) needs CAP_SYS_ADMIN): a child, so
  // the test process keeps its ids. Its exit code says what it found.
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0)
      ::_exit(10);
    try {
      kernel::Helper h(GOODCOP_BINARY);
      if (h.kind() != kernel::Helper::Kind::kSealedCopy) ::_exit(11);
      if (::fcntl(h.fd(), F_GET_SEALS) !=
          (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE))
        ::_exit(12);
      std::string self = "/proc/self/fd/" + std::to_string(h.fd());
      if (::open(self.c_str(), O_WRONLY | O_CLOEXEC) >= 0) ::_exit(13);
      ::_exit(0);
    } catch (...) {
      ::_exit(14);
    }
  }
  int st = 0;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  REQUIRE(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
}

TEST_CASE("Helper refuses a helper file others can write", "[kernel][helper]") {
  TempDir dir;
  write_text(dir / "goodcop", "x", 0755);
  write_text(dir / "goodcop-jail-helper", "x", 0775);
  ::chmod((dir / "goodcop-jail-helper").c_str(), 0775);
  try {
    kernel::Helper h(dir / "goodcop");
    FAIL("accepted a group-writable helper");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "jail helper '" + dir.path() +
                                       "/goodcop-jail-helper': not a regular file owned by root "
                                       "and writable only by its owner");
  }
}
