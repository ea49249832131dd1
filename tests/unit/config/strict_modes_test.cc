// StrictModes, as sshd has them: a policy a customer can edit is a root shell for
// that customer. Checked on the opened fds; the tests chown to a non-root uid.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <climits>
#include <cstdlib>

#include "config/policy.h"
#include "tests/support/support.h"

using namespace goodcop::config;
using goodcop::test::TempDir;
using goodcop::test::write_text;

namespace {

const std::string kPolicy = "name: w\npath: /srv/w\nexec: {start: [/bin/sh]}\n";

std::vector<std::string> errors(const FileResult& r) {
  std::vector<std::string> out;
  for (const Diag& d : r.diags) out.push_back(d.str());
  return out;
}

std::string real(const std::string& p) {
  char buf[PATH_MAX];
  REQUIRE(::realpath(p.c_str(), buf) != nullptr);
  return buf;
}

}  // namespace

TEST_CASE("a root-owned 0644 file in a root-owned 0755 directory loads", "[config][root]") {
  GOODCOP_REQUIRE_ROOT();
  TempDir d;
  REQUIRE(::chmod(d.path().c_str(), 0755) == 0);
  write_text(d / "w.yaml", kPolicy, 0644);
  auto r = load_policy_file(d / "w.yaml");
  CHECK(errors(r).empty());
  CHECK(r.ok());
  CHECK(load_policy_dir(d.path()).ok());
}

TEST_CASE("a policy file owned by another user is refused", "[config][root]") {
  GOODCOP_REQUIRE_ROOT();
  TempDir d;
  write_text(d / "w.yaml", kPolicy, 0644);
  REQUIRE(::chown((d / "w.yaml").c_str(), 1000, 1000) == 0);
  CHECK(
      errors(load_policy_file(d / "w.yaml")) ==
      std::vector<std::string>{"'" + d / "w.yaml" + "': owned by uid 1000, must be owned by root"});
  // The same file through the directory loader.
  DirResult r = load_policy_dir(d.path());
  REQUIRE(r.files.size() == 1);
  CHECK(errors(r.files[0]) == errors(load_policy_file(d / "w.yaml")));
  CHECK(!r.ok());
  // Only --no-strict-modes looks past it.
  CHECK(load_policy_file(d / "w.yaml", LoadOptions{false}).ok());
}

TEST_CASE("a group- or world-writable policy file is refused", "[config][root]") {
  GOODCOP_REQUIRE_ROOT();
  TempDir d;
  write_text(d / "g.yaml", kPolicy, 0664);
  write_text(d / "o.yaml", kPolicy, 0602);
  REQUIRE(::chmod((d / "g.yaml").c_str(), 0664) == 0);  // whatever the umask was
  REQUIRE(::chmod((d / "o.yaml").c_str(), 0602) == 0);
  CHECK(errors(load_policy_file(d / "g.yaml")) ==
        std::vector<std::string>{"'" + d / "g.yaml" +
                                 "': writable by group or others (mode 0664), must not be"});
  CHECK(errors(load_policy_file(d / "o.yaml")) ==
        std::vector<std::string>{"'" + d / "o.yaml" +
                                 "': writable by group or others (mode 0602), must not be"});
}

TEST_CASE("the policy directory must be root's and not writable by others", "[config][root]") {
  GOODCOP_REQUIRE_ROOT();
  TempDir d;
  std::string dir = d / "jails";
  REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  write_text(dir + "/w.yaml", kPolicy, 0644);

  REQUIRE(::chown(dir.c_str(), 1000, 1000) == 0);
  std::string owned = "'" + dir + "': owned by uid 1000, must be owned by root";
  CHECK(errors(load_policy_file(dir + "/w.yaml")) == std::vector<std::string>{owned});
  DirResult r = load_policy_dir(dir);
  REQUIRE(r.diags.size() == 1);
  CHECK(r.diags[0].str() == owned);
  CHECK(!r.ok());

  // A sticky bit does not excuse the policy directory itself (only ancestors such as /tmp).
  REQUIRE(::chown(dir.c_str(), 0, 0) == 0);
  REQUIRE(::chmod(dir.c_str(), 01777) == 0);
  CHECK(errors(load_policy_file(dir + "/w.yaml")) ==
        std::vector<std::string>{"'" + dir +
                                 "': writable by group or others (mode 1777), must not be"});
}

TEST_CASE("every ancestor of the policy directory must be root's", "[config][root]") {
  GOODCOP_REQUIRE_ROOT();
  // A user who owns /home/u can rename /home/u/jails away and put their own in place.
  TempDir d;
  std::string mid = d / "home-u";
  std::string dir = mid + "/jails";
  REQUIRE(::mkdir(mid.c_str(), 0755) == 0);
  REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  write_text(dir + "/w.yaml", kPolicy, 0644);
  REQUIRE(::chown(mid.c_str(), 1000, 1000) == 0);
  CHECK(errors(load_policy_file(dir + "/w.yaml")) ==
        std::vector<std::string>{"'" + real(mid) + "': owned by uid 1000, must be owned by root"});
  REQUIRE(::chown(mid.c_str(), 0, 0) == 0);
  REQUIRE(::chmod(mid.c_str(), 0777) == 0);
  CHECK(errors(load_policy_file(dir + "/w.yaml")) ==
        std::vector<std::string>{"'" + real(mid) +
                                 "': writable by group or others (mode 0777), must not be"});
  // Sticky and root-owned, like /tmp: others cannot rename or remove our directory.
  REQUIRE(::chmod(mid.c_str(), 01777) == 0);
  CHECK(load_policy_file(dir + "/w.yaml").ok());
}

TEST_CASE("a symlinked policy file is refused, even to a good file", "[config][root]") {
  GOODCOP_REQUIRE_ROOT();
  TempDir d;
  write_text(d / "good.yaml", kPolicy, 0644);
  REQUIRE(::symlink((d / "good.yaml").c_str(), (d / "link.yaml").c_str()) == 0);
  CHECK(errors(load_policy_file(d / "link.yaml")) ==
        std::vector<std::string>{"'" + d / "link.yaml" +
                                 "': is a symbolic link, refusing to follow it"});
  CHECK(errors(load_policy_file(d / "link.yaml", LoadOptions{false})) ==
        std::vector<std::string>{"'" + d / "link.yaml" +
                                 "': is a symbolic link, refusing to follow it"});
}

TEST_CASE("files over 1M are refused before they are read", "[config][root]") {
  GOODCOP_REQUIRE_ROOT();
  TempDir d;
  write_text(d / "big.yaml", kPolicy + std::string((1 << 20) + 1, '#'), 0644);
  CHECK(errors(load_policy_file(d / "big.yaml")) ==
        std::vector<std::string>{"'" + d / "big.yaml" + "': file is larger than 1M (" +
                                 std::to_string(kPolicy.size() + (1 << 20) + 1) +
                                 " bytes), refusing to parse it"});
}

TEST_CASE("a missing file is one clear error", "[config]") {
  CHECK(errors(load_policy_file("/nonexistent/w.yaml")) ==
        std::vector<std::string>{"'/nonexistent/w.yaml': cannot open: No such file or directory"});
  TempDir d;
  CHECK(errors(load_policy_file(d / "none.yaml", LoadOptions{false})) ==
        std::vector<std::string>{"'" + d / "none.yaml" +
                                 "': cannot open: No such file or directory"});
}
