// Deviations only root can make (chown, file capabilities, device nodes, mounts).
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>

#include "base/fd.h"
#include "base/scope_exit.h"
#include "integrity/scan.h"
#include "integrity/verify.h"
#include "integrity/walk.h"
#include "tests/unit/integrity/tree_fixture.h"

using namespace goodcop;
using namespace goodcop::test;
namespace in = goodcop::integrity;

TEST_CASE("chown is an owner change", "[root]") {
  GOODCOP_REQUIRE_ROOT();
  Tree t;
  REQUIRE(::lchown((t / "bin/tool").c_str(), 1000, 1000) == 0);
  CHECK(in::format_human(t.quick()) == "changed  bin/tool: owner 0:0 -> 1000:1000\n");
  CHECK(kinds_at(t.full(), "bin/tool") == in::kOwner);
}

TEST_CASE("a security.capability xattr added is an xattr change", "[root]") {
  GOODCOP_REQUIRE_ROOT();
  Tree t;
  // struct vfs_cap_data, revision 2 (linux/capability.h): magic, then
  // permitted/inheritable for the low and high 32 capabilities. CAP_NET_RAW (13).
  uint32_t cap[5] = {0x02000000u, 1u << 13, 0, 0, 0};
  int rc = ::setxattr((t / "bin/tool").c_str(), "security.capability", cap, sizeof cap, 0);
  if (rc != 0 && errno == EOPNOTSUPP) {
    WARN("skipped: no xattrs on " << t.dir.path());
    return;
  }
  REQUIRE(rc == 0);
  in::Diff q = t.quick(), f = t.full();
  CHECK(kinds_at(q, "bin/tool") == in::kXattr);
  CHECK(kinds_at(f, "bin/tool") == in::kXattr);
  CHECK(in::format_human(q) == "changed  bin/tool: xattr security.capability\n");
  // And once recorded, it is in the manifest and its removal is caught too.
  t.snap();
  REQUIRE(t.m.xattrs(*t.m.find("bin/tool")).size() == 1);
  REQUIRE(::removexattr((t / "bin/tool").c_str(), "security.capability") == 0);
  CHECK(kinds_at(t.quick(), "bin/tool") == in::kXattr);
}

TEST_CASE("a device node added is reported and never opened", "[root]") {
  GOODCOP_REQUIRE_ROOT();
  Tree t;
  // /dev/sda's numbers: opening it would read a disk; the walk must only lstat it.
  REQUIRE(::mknod((t / "a/disk").c_str(), S_IFBLK | 0600, ::makedev(8, 0)) == 0);
  in::Diff f = t.full();
  CHECK(kinds_at(f, "a/disk") == in::kAdded);
  CHECK(in::format_human(f) == "added    a/disk (block)\n");
  t.snap();
  const in::Entry* e = t.m.find("a/disk");
  REQUIRE(e != nullptr);
  CHECK(e->rdev == ::makedev(8, 0));
  // Renumbered: a device change.
  REQUIRE(::unlink((t / "a/disk").c_str()) == 0);
  REQUIRE(::mknod((t / "a/disk").c_str(), S_IFBLK | 0600, ::makedev(8, 16)) == 0);
  CHECK((kinds_at(t.quick(), "a/disk") & in::kDevice) != 0);
}

TEST_CASE("the walk records a mount point but never enters it", "[root]") {
  GOODCOP_REQUIRE_ROOT();
  Tree t;
  REQUIRE(::mkdir((t / "mnt").c_str(), 0755) == 0);
  REQUIRE(::mount("none", (t / "mnt").c_str(), "tmpfs", 0, "size=1m") == 0);
  ScopeExit unmount([&] { ::umount2((t / "mnt").c_str(), MNT_DETACH); });
  write_text(t / "mnt/inside", "other filesystem");
  in::Manifest m = in::build_manifest(t.root.get());
  CHECK(m.find("mnt") != nullptr);
  CHECK(m.find("mnt/inside") == nullptr);
}

TEST_CASE("security.capability is found with or without asking flistxattr first, behind many other xattrs too", "[root]") {
  GOODCOP_REQUIRE_ROOT();
  TempDir dir;
  write_text(dir / "cap", "x");
  write_text(dir / "plain", "y");
  uint32_t cap[5] = {0x02000000u, 1u << 13, 0, 0, 0};
  int rc = ::setxattr((dir / "cap").c_str(), "security.capability", cap, sizeof cap, 0);
  if (rc != 0 && errno == EOPNOTSUPP) {
    WARN("skipped: no xattrs on " << dir.path());
    return;
  }
  REQUIRE(rc == 0);
  // More names than the 512-byte list buffer holds: flistxattr says ERANGE.
  for (int i = 0; i < 40; ++i) {
    std::string name = "user.a-rather-long-attribute-name-" + std::to_string(i);
    REQUIRE(::setxattr((dir / "cap").c_str(), name.c_str(), "v", 1, 0) == 0);
    REQUIRE(::setxattr((dir / "plain").c_str(), name.c_str(), "v", 1, 0) == 0);
  }
  UniqueFd cfd = open_fd(dir / "cap", O_RDONLY), pfd = open_fd(dir / "plain", O_RDONLY);
  CHECK(in::lists_xattrs(cfd.get()));  // /tmp: ext4 or tmpfs
  for (bool list_first : {false, true}) {
    INFO("list_first " << list_first);
    std::vector<in::Xattr> xs = in::read_xattrs_fd(cfd.get(), false, "cap", list_first);
    REQUIRE(xs.size() == 1);
    CHECK(xs[0].first == "security.capability");
    CHECK(xs[0].second == std::string(reinterpret_cast<const char*>(cap), sizeof cap));
    CHECK(in::read_xattrs_fd(pfd.get(), false, "plain", list_first).empty());
  }
  // With few names (the list fits): still found, and a file with none says none.
  for (int i = 0; i < 40; ++i) {
    std::string name = "user.a-rather-long-attribute-name-" + std::to_string(i);
    REQUIRE(::removexattr((dir / "cap").c_str(), name.c_str()) == 0);
  }
  REQUIRE(in::read_xattrs_fd(cfd.get(), false, "cap", true).size() == 1);
  write_text(dir / "none", "z");
  UniqueFd nfd = open_fd(dir / "none", O_RDONLY);
  CHECK(in::read_xattrs_fd(nfd.get(), false, "none", true).empty());
}
