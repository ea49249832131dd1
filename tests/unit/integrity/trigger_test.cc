#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "integrity/scan.h"
#include "integrity/trigger.h"
#include "tests/support/support.h"

using namespace goodcop;
using namespace goodcop::test;
namespace in = goodcop::integrity;

namespace {

// Waits up to 2 s for the trigger fd, then drains it.
bool fired(in::ChangeTrigger& t) {
  pollfd p{t.fd(), POLLIN, 0};
  if (::poll(&p, 1, 2000) != 1) return false;
  return t.consume();
}

}  // namespace

TEST_CASE("the change trigger reports writes anywhere in the tree, new directories included") {
  TempDir d;
  REQUIRE(::mkdir((d / "a").c_str(), 0755) == 0);
  write_text(d / "a/f", "x");
  UniqueFd root = in::open_tree(d.path());
  in::ChangeTrigger t(root.get(), {"var/log/**"});
  CHECK(t.watches() == 2);
  CHECK_FALSE(t.consume());

  write_text(d / "a/f", "y");
  CHECK(fired(t));
  CHECK_FALSE(t.consume());

  REQUIRE(::mkdir((d / "a/new").c_str(), 0755) == 0);
  CHECK(fired(t));
  CHECK(t.watches() == 3);
  write_text(d / "a/new/shell.php", "<?php");
  CHECK(fired(t));

  REQUIRE(::chmod((d / "a/f").c_str(), 04755) == 0);
  CHECK(fired(t));
  CHECK_FALSE(t.degraded());
}

TEST_CASE("the change trigger stays silent for ignored paths and reports its watch limit") {
  TempDir d;
  REQUIRE(::mkdir((d / "var").c_str(), 0755) == 0);
  REQUIRE(::mkdir((d / "var/log").c_str(), 0755) == 0);
  REQUIRE(::mkdir((d / "var/log/x").c_str(), 0755) == 0);
  UniqueFd root = in::open_tree(d.path());
  {
    in::ChangeTrigger t(root.get(), {"var/log/**"});
    CHECK(t.watches() == 3);  // ".", var, var/log; not var/log/x
    write_text(d / "var/log/app.log", "line");
    pollfd p{t.fd(), POLLIN, 0};
    REQUIRE(::poll(&p, 1, 2000) == 1);
    CHECK_FALSE(t.consume());  // only ignored paths were written
  }
  in::ChangeTrigger small(root.get(), {}, 2);
  CHECK(small.watches() == 2);
  CHECK(small.degraded());
}
