#include <poll.h>
#include <sys/mount.h>
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

namespace {

// A tmpfs of the test's own on dir, unmounted (lazily) even when a check fails.
struct TmpfsMount {
  explicit TmpfsMount(const std::string& dir) : dir_(dir) {
    REQUIRE(::mount("goodcop-test", dir.c_str(), "tmpfs", 0, "size=16m,mode=0755") == 0);
  }
  ~TmpfsMount() { ::umount2(dir_.c_str(), MNT_DETACH); }
  std::string dir_;
};

// Writes `path` from a fresh mount namespace, as a jail does (unshare(1)).
void write_from_other_mount_ns(const std::string& path) {
  RunResult r = run({"/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                     "echo written > \"$0\"", path});
  REQUIRE(r.err == "");
  REQUIRE(r.status == 0);
}

}  // namespace

TEST_CASE("on a filesystem of its own the trigger uses fanotify and sees writes from another mount namespace",
          "[root]") {
  GOODCOP_REQUIRE_ROOT();
  TempDir d;
  TmpfsMount mnt(d.path());
  REQUIRE(::mkdir((d / "a").c_str(), 0755) == 0);
  REQUIRE(::mkdir((d / "var").c_str(), 0755) == 0);
  REQUIRE(::mkdir((d / "var/log").c_str(), 0755) == 0);
  UniqueFd root = in::open_tree(d.path());
  CHECK(in::is_whole_filesystem(root.get()));
  in::ChangeTrigger t(root.get(), {"var/log/**"});
  REQUIRE(t.source() == in::TriggerSource::kFanotify);
  CHECK_FALSE(t.consume());

  write_text(d / "a/f", "x");
  CHECK(fired(t));
  CHECK_FALSE(t.consume());
  write_from_other_mount_ns(d / "a/from-jail");
  CHECK(fired(t));
  // New directories need no new watch: the mark is on the whole filesystem.
  REQUIRE(::mkdir((d / "a/new").c_str(), 0755) == 0);
  CHECK(fired(t));
  write_from_other_mount_ns(d / "a/new/shell.php");
  CHECK(fired(t));
  REQUIRE(::chmod((d / "a/f").c_str(), 04755) == 0);
  CHECK(fired(t));

  // Writes below ignored paths wake the fd but are dropped.
  write_text(d / "var/log/app.log", "line");
  pollfd p{t.fd(), POLLIN, 0};
  REQUIRE(::poll(&p, 1, 2000) == 1);
  CHECK_FALSE(t.consume());
  CHECK_FALSE(t.degraded());
}

TEST_CASE("a tree inside a larger filesystem falls back to inotify, which sees other mount namespaces too",
          "[root]") {
  GOODCOP_REQUIRE_ROOT();
  TempDir d;
  REQUIRE(::mkdir((d / "a").c_str(), 0755) == 0);
  UniqueFd root = in::open_tree(d.path());
  CHECK_FALSE(in::is_whole_filesystem(root.get()));
  CHECK_THROWS_WITH(in::ChangeTrigger(root.get(), {}, 65536, in::TriggerSource::kFanotify),
                    "trigger: the tree is not a whole filesystem (a fanotify filesystem mark would "
                    "report writes outside it)");
  in::ChangeTrigger t(root.get());
  REQUIRE(t.source() == in::TriggerSource::kInotify);
  write_from_other_mount_ns(d / "a/from-jail");
  CHECK(fired(t));

  // inotify can be chosen on a filesystem of its own too.
  TempDir m;
  TmpfsMount mnt(m.path());
  UniqueFd mroot = in::open_tree(m.path());
  in::ChangeTrigger ti(mroot.get(), {}, 65536, in::TriggerSource::kInotify);
  CHECK(ti.source() == in::TriggerSource::kInotify);
  write_from_other_mount_ns(m / "x");
  CHECK(fired(ti));
}
