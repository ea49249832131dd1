// Users and groups resolved from the jail's own /etc/passwd and /etc/group, and a hostile
// jail tree that tries to make the host read its files instead.
#include "kernel/users.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>

#include "base/error.h"
#include "tests/support/support.h"
#include "tests/unit/kernel/jail_fixture.h"

using namespace goodcop;
using namespace goodcop::test;
using kernel::resolve_group;
using kernel::resolve_groups;
using kernel::resolve_user;

namespace {

// A jail tree with its own users. The host has "daemon" (uid 1) and no "jailweb".
struct Tree {
  TempDir dir;
  Tree() {
    ::mkdir((dir / "etc").c_str(), 0755);
    write_text(dir / "etc/passwd",
               "# the jail's own\nroot:x:0:0:root:/root:/bin/sh\n"
               "jailweb:x:1234:4321::/srv:/bin/sh\n+nis\nfar:x:70000:1:::\n"
               "bad:x:12:nogid:::\n");
    write_text(dir / "etc/group", "root:x:0:\nweb:x:77:jailweb\nfar:x:65536:\n");
  }
  std::string root() const { return dir.path(); }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("resolve_user and resolve_group read the jail's files, not the host's",
          "[kernel][users]") {
  Tree t;
  CHECK(resolve_user(t.root(), "jailweb") == std::pair<uint32_t, uint32_t>{1234, 4321});
  CHECK(resolve_user(t.root(), "root") == std::pair<uint32_t, uint32_t>{0, 0});
  // A number: the gid /etc/passwd lists for it, else the same number.
  CHECK(resolve_user(t.root(), "1234") == std::pair<uint32_t, uint32_t>{1234, 4321});
  CHECK(resolve_user(t.root(), "500") == std::pair<uint32_t, uint32_t>{500, 500});
  CHECK(resolve_group(t.root(), "web") == 77);
  CHECK(resolve_group(t.root(), "12") == 12);
  // The host's users are not the jail's.
  REQUIRE(read_file("/etc/passwd").find("\ndaemon:") != std::string::npos);
  CHECK(error_of([&] { resolve_user(t.root(), "daemon"); }) == "user 'daemon' not found in jail");
}

TEST_CASE("resolve_user and resolve_group errors", "[kernel][users]") {
  Tree t;
  CHECK(error_of([&] { resolve_user(t.root(), "nosuch"); }) == "user 'nosuch' not found in jail");
  CHECK(error_of([&] { resolve_group(t.root(), "nosuch"); }) == "group 'nosuch' not found in jail");
  CHECK(error_of([&] { resolve_user(t.root(), "nis"); }) == "user 'nis' not found in jail");
  CHECK(error_of([&] { resolve_user(t.root(), "far"); }) ==
        "user 'far' has uid 70000, outside the jail's ids 0-65535");
  CHECK(error_of([&] { resolve_user(t.root(), "65536"); }) ==
        "uid 65536, outside the jail's ids 0-65535");
  CHECK(error_of([&] { resolve_group(t.root(), "far"); }) ==
        "group 'far' has gid 65536, outside the jail's ids 0-65535");
  CHECK(error_of([&] { resolve_user(t.root(), "bad"); }) ==
        "user 'bad': malformed entry in the jail's /etc/passwd");
  CHECK(error_of([&] { resolve_user(t.root(), ""); }) == "empty user name");
  CHECK(error_of([&] { resolve_user(t.root(), "a\x1b[2Jb"); }) ==
        "user 'a\\x1b[2Jb' not found in jail");
  // No /etc/passwd at all: nobody is there.
  TempDir empty;
  CHECK(error_of([&] { resolve_user(empty.path(), "root"); }) == "user 'root' not found in jail");
  CHECK(resolve_user(empty.path(), "0") == std::pair<uint32_t, uint32_t>{0, 0});
}

TEST_CASE("a hostile jail tree cannot make resolve_user read a host file",
          "[kernel][users][escape]") {
  // The host file the jail wants read: it names a user the jail's own files don't have.
  TempDir host;
  write_text(host / "passwd", "evil:x:4242:4242::/:/bin/sh\n");
  write_text(host / "group", "evil:x:4242:\n");
  const std::string depth = "../../../../../../../../../../../..";
  for (const std::string& target : {host / "passwd", depth + host.path() + "/passwd",
                                    "/proc/self/root" + host.path() + "/passwd"}) {
    INFO(target);
    Tree t;
    ::unlink((t.dir / "etc/passwd").c_str());
    REQUIRE(::symlink(target.c_str(), (t.dir / "etc/passwd").c_str()) == 0);
    // Followed inside the tree (RESOLVE_IN_ROOT), where there is no such file.
    CHECK(error_of([&] { resolve_user(t.root(), "evil"); }) == "user 'evil' not found in jail");
  }
  // A symlinked directory on the way: the same.
  {
    Tree t;
    std::filesystem::remove_all(t.dir / "etc");
    REQUIRE(::symlink(host.path().c_str(), (t.dir / "etc").c_str()) == 0);
    CHECK(error_of([&] { resolve_user(t.root(), "evil"); }) == "user 'evil' not found in jail");
    CHECK(error_of([&] { resolve_group(t.root(), "evil"); }) == "group 'evil' not found in jail");
  }
  // A symlink that stays in the tree is followed, as the jail would.
  {
    Tree t;
    ::mkdir((t.dir / "usr").c_str(), 0755);
    REQUIRE(::rename((t.dir / "etc/passwd").c_str(), (t.dir / "usr/passwd").c_str()) == 0);
    REQUIRE(::symlink("/usr/passwd", (t.dir / "etc/passwd").c_str()) == 0);
    CHECK(resolve_user(t.root(), "jailweb") == std::pair<uint32_t, uint32_t>{1234, 4321});
  }
  // A fifo must not hang the host; a device is no passwd file either.
  {
    Tree t;
    ::unlink((t.dir / "etc/group").c_str());
    REQUIRE(::mkfifo((t.dir / "etc/group").c_str(), 0644) == 0);
    CHECK(error_of([&] { resolve_group(t.root(), "web"); }) ==
          "'" + t.root() + "/etc/group' is not a regular file");
  }
}

TEST_CASE("resolve_groups lists the groups naming the user in the jail's /etc/group",
          "[kernel][users]") {
  Tree t;
  using G = std::vector<uint32_t>;
  CHECK(resolve_groups(t.root(), "jailweb", 4321) == G{4321, 77});
  CHECK(resolve_groups(t.root(), "root", 0) == G{0});
  write_text(t.dir / "etc/group",
             "adm:x:4:jailweb,other\n"
             "staff:x:50:other,jailweb\n"
             "jailwebs:x:60:jailwebmaster,jail\n"  // names that merely start or end alike
             "again:x:4:jailweb\n"                  // a gid already granted: once
             "# web:x:70:jailweb\n"
             "broken:x:nogid:jailweb\n"             // no gid: nothing to grant
             "short:x:80\n");
  CHECK(resolve_groups(t.root(), "jailweb", 4321) == G{4321, 4, 50});
  CHECK(resolve_groups(t.root(), "jailweb", 50) == G{50, 4});
  CHECK(resolve_groups(t.root(), "other", 1) == G{1, 4, 50});
  CHECK(resolve_groups(t.root(), "nobody", 9) == G{9});
  // A group beyond the jail's ids is an error, not silently dropped.
  write_text(t.dir / "etc/group", "far:x:70000:jailweb\n");
  CHECK(error_of([&] { resolve_groups(t.root(), "jailweb", 1); }) ==
        "user 'jailweb' is in group 'far' with gid 70000, outside the jail's ids 0-65535");
  // No /etc/group: the primary group alone.
  ::unlink((t.dir / "etc/group").c_str());
  CHECK(resolve_groups(t.root(), "jailweb", 4321) == G{4321});
}

TEST_CASE("goodcop jail -u sets a named user's supplementary groups from the jail",
          "[kernel][cli][users][root]") {
  GOODCOP_REQUIRE_ROOT();
  // A tree of its own: the jail's /etc/group names the user in two groups.
  TempDir tree;
  REQUIRE(::chmod(tree.path().c_str(), 0755) == 0);  // the jail's users walk its /
  for (const char* d : {"bin", "etc", "proc", "dev", "tmp"})
    REQUIRE(::mkdir((tree / d).c_str(), 0755) == 0);
  write_text(tree / "bin/busybox", read_file("/bin/busybox"), 0755);
  for (const char* applet : {"sh", "id"})
    REQUIRE(::symlink("busybox", (tree / (std::string("bin/") + applet)).c_str()) == 0);
  write_text(tree / "etc/passwd", "root:x:0:0::/:/bin/sh\nweb:x:1001:1001::/:/bin/sh\n");
  write_text(tree / "etc/group",
             "root:x:0:\nadm:x:4:web,other\nstaff:x:50:other,web\nwebs:x:60:webmaster\n"
             "web:x:1001:\n");
  auto groups = [&](std::vector<std::string> opts) {
    std::vector<std::string> args = {"jail"};
    args.insert(args.end(), opts.begin(), opts.end());
    for (std::string a : {tree.path(), std::string("h"), std::string("-"), std::string("sh"),
                          std::string("-c"), std::string("id -g; id -G")})
      args.push_back(a);
    RunResult r = run_goodcop(args);
    INFO("err: " << r.err);
    CHECK(r.status == 0);
    return r.out;
  };
  CHECK(groups({"-u", "web"}) == "1001\n1001 4 50\n");
  CHECK(groups({"-u", "web:staff"}) == "50\n50 4\n");
  CHECK(groups({"-u", "web", "-g", "root"}) == "0\n0 4 50\n");
  // A number has no name to look up: its group alone.
  CHECK(groups({"-u", "1001"}) == "1001\n1001\n");
  CHECK(groups({"-u", "1001:50"}) == "50\n50\n");
  CHECK(groups({}) == "0\n0\n");
}

TEST_CASE("goodcop jail -u and -g take names from the jail", "[kernel][cli][users][root]") {
  GOODCOP_REQUIRE_ROOT();
  const std::string root = jail_rootfs();  // /etc/passwd: root 0:0, user 1000:1000
  auto ids = [&](std::vector<std::string> opts) {
    std::vector<std::string> args = {"jail"};
    args.insert(args.end(), opts.begin(), opts.end());
    for (std::string a : {root, std::string("h"), std::string("-"), std::string("sh"),
                          std::string("-c"), std::string("echo $(id -u) $(id -g)")})
      args.push_back(a);
    return run_goodcop(args);
  };
  CHECK(ids({"-u", "user"}).out == "1000 1000\n");
  CHECK(ids({"-u", "user", "-g", "root"}).out == "1000 0\n");
  CHECK(ids({"-u", "user:root"}).out == "1000 0\n");
  CHECK(ids({"-u", "1000:7"}).out == "1000 7\n");
  CHECK(ids({"-g", "user"}).out == "0 1000\n");
  RunResult r = ids({"-u", "nobody"});
  CHECK(r.err == "goodcop: jail: user 'nobody' not found in jail\n");
  CHECK(r.status == 2);
  r = ids({"-u", "user", "-g", "staff"});
  CHECK(r.err == "goodcop: jail: group 'staff' not found in jail\n");
  CHECK(r.status == 2);
  r = ids({"-u", "user:root", "-g", "root"});
  CHECK(r.err == "goodcop: jail: a group in both '-u user:root' and '-g root'\n");
  CHECK(r.status == 2);
}
