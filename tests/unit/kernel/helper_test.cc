// The setup helper: goodcop-jail-helper next to goodcop, copied into a sealed memfd.
#include <fcntl.h>
#include <sys/stat.h>
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
  // The copy is sealed: not even its owner can write to it.
  CHECK(::fcntl(jail_helper().fd(), F_GET_SEALS) ==
        (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE));
  // Without a helper next to it, the binary itself (whose main runs the setup modes).
  TempDir dir;
  write_text(dir / "goodcop", "not really goodcop", 0755);
  CHECK(kernel::Helper(dir / "goodcop").source() == dir / "goodcop");
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
