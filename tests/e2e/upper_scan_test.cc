// The overlay check between walks (watchdog/driver/upper_scan.h): a real overlay mount,
// a baseline built from its merged tree, then each kind of change a jail can make, each
// proving the cheap check hands over to the walk (kLook), and ignored writes that do not.
#include "watchdog/driver/upper_scan.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "base/error.h"
#include "base/fd.h"
#include "integrity/glob.h"
#include "integrity/scan.h"
#include "tests/support/support.h"

using goodcop::UniqueFd;
namespace integrity = goodcop::integrity;
using goodcop::driver::scan_upper;
using goodcop::driver::UpperVerdict;
using goodcop::test::TempDir;

namespace {

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

// lower/{www/index.html, www/img/logo.png, var/log/} under an overlay at merged/.
struct Overlay {
  TempDir t;
  std::string lower = t / "lower", upper = t / "upper", work = t / "work", merged = t / "merged";
  bool mounted = false;
  std::vector<std::string> globs{"var/log/**", "tmp/**"};
  integrity::Manifest baseline;

  Overlay() {
    for (const auto& d : {lower, upper, work, merged, lower + "/www", lower + "/www/img",
                          lower + "/var", lower + "/var/log", lower + "/tmp"})
      goodcop::check(::mkdir(d.c_str(), 0755), "mkdir", d);
    write_file(lower + "/www/index.html", "<h1>hello</h1>\n");
    write_file(lower + "/www/img/logo.png", "png");
    std::string opts = "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work;
    goodcop::check(::mount("overlay", merged.c_str(), "overlay", 0, opts.c_str()), "mount",
                   merged);
    mounted = true;
    integrity::ScanOptions so;
    so.ignore = globs;
    UniqueFd root = integrity::open_tree(merged);
    baseline = integrity::build_manifest(root.get(), so);
  }
  ~Overlay() {
    if (mounted) ::umount2(merged.c_str(), MNT_DETACH);
  }
  UpperVerdict scan() {
    UniqueFd root = integrity::open_tree(merged);
    UniqueFd up(goodcop::check(::open(upper.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC), "open",
                               upper));
    return scan_upper(up.get(), root.get(), baseline, integrity::IgnoreSet(globs));
  }
  std::string m(const std::string& rel) const { return merged + "/" + rel; }
};

}  // namespace

TEST_CASE("overlay check: an untouched upper layer and ignored writes need no walk",
          "[driver][overlay][root]") {
  GOODCOP_REQUIRE_ROOT();
  Overlay o;
  CHECK(o.scan() == UpperVerdict::kClean);
  // Reading changes nothing in upper.
  std::ifstream(o.m("www/index.html")).get();
  CHECK(o.scan() == UpperVerdict::kClean);
  // A log written below an ignored directory: overlayfs copies var/ and var/log/ up
  // unchanged; the new file is ignored.
  write_file(o.m("var/log/access.log"), "GET /\n");
  write_file(o.m("tmp/session"), "x");
  struct stat st {};
  REQUIRE(::stat((o.upper + "/var/log/access.log").c_str(), &st) == 0);
  CHECK(o.scan() == UpperVerdict::kClean);
  // Opening a file for write copies it up even when nothing is written: a file in upper
  // is always looked at.
  UniqueFd w(::open(o.m("www/index.html").c_str(), O_WRONLY | O_CLOEXEC));
  REQUIRE(w);
  CHECK(o.scan() == UpperVerdict::kLook);
}

TEST_CASE("overlay check: every kind of change a jail can make is handed to the walk",
          "[driver][overlay][root]") {
  GOODCOP_REQUIRE_ROOT();
  SECTION("a changed file") {
    Overlay o;
    write_file(o.m("www/index.html"), "owned");
    CHECK(o.scan() == UpperVerdict::kLook);
  }
  SECTION("a new file") {
    Overlay o;
    write_file(o.m("www/shell.php"), "<?php");
    CHECK(o.scan() == UpperVerdict::kLook);
  }
  SECTION("a deleted file (a whiteout)") {
    Overlay o;
    REQUIRE(::unlink(o.m("www/img/logo.png").c_str()) == 0);
    CHECK(o.scan() == UpperVerdict::kLook);
  }
  SECTION("a directory whose mode changed") {
    Overlay o;
    REQUIRE(::chmod(o.m("www/img").c_str(), 0777) == 0);
    CHECK(o.scan() == UpperVerdict::kLook);
  }
  SECTION("a directory whose owner changed") {
    Overlay o;
    REQUIRE(::chown(o.m("www").c_str(), 1000, 1000) == 0);
    CHECK(o.scan() == UpperVerdict::kLook);
  }
  SECTION("the root's mode changed") {
    Overlay o;
    REQUIRE(::chmod(o.merged.c_str(), 0777) == 0);
    CHECK(o.scan() == UpperVerdict::kLook);
  }
  SECTION("a new empty directory") {
    Overlay o;
    REQUIRE(::mkdir(o.m("www/new").c_str(), 0755) == 0);
    CHECK(o.scan() == UpperVerdict::kLook);
  }
  SECTION("a directory removed and made again (opaque: its lower entries are hidden)") {
    Overlay o;
    REQUIRE(::unlink(o.m("www/img/logo.png").c_str()) == 0);
    REQUIRE(::rmdir(o.m("www/img").c_str()) == 0);
    REQUIRE(::mkdir(o.m("www/img").c_str(), 0755) == 0);
    CHECK(o.scan() == UpperVerdict::kLook);
  }
  SECTION("a symlink where a directory was") {
    Overlay o;
    REQUIRE(::unlink(o.m("www/img/logo.png").c_str()) == 0);
    REQUIRE(::rmdir(o.m("www/img").c_str()) == 0);
    REQUIRE(::symlink("/etc", o.m("www/img").c_str()) == 0);
    CHECK(o.scan() == UpperVerdict::kLook);
  }
  SECTION("an ignored directory's own mode") {
    Overlay o;
    // var/log/** ignores what is below var/log, not var/log itself.
    REQUIRE(::chmod(o.m("var/log").c_str(), 0777) == 0);
    CHECK(o.scan() == UpperVerdict::kLook);
  }
  SECTION("more upper entries than the scan may look at") {
    Overlay o;
    write_file(o.m("var/log/a"), "a");
    UniqueFd root = integrity::open_tree(o.merged);
    UniqueFd up(::open(o.upper.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    CHECK(scan_upper(up.get(), root.get(), o.baseline, integrity::IgnoreSet(o.globs), 1) ==
          UpperVerdict::kLook);
  }
}

TEST_CASE("overlay check: what the jail changed is in upper, a change of the lower tree is not",
          "[driver][overlay][root]") {
  GOODCOP_REQUIRE_ROOT();
  using goodcop::driver::upper_accounts_for;
  Overlay o;
  auto accounts = [&](const std::string& rel) {
    UniqueFd up(goodcop::check(::open(o.upper.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC),
                               "open", o.upper));
    return upper_accounts_for(up.get(), rel);
  };
  CHECK(accounts(""));  // the merged root is upper's root
  CHECK_FALSE(accounts("www/index.html"));
  CHECK_FALSE(accounts("www/img/logo.png"));
  // Through the merged tree, as a jail writes: each change leaves its mark in upper.
  write_file(o.m("www/index.html"), "owned");
  CHECK(accounts("www/index.html"));
  REQUIRE(::unlink(o.m("www/img/logo.png").c_str()) == 0);  // a whiteout
  CHECK(accounts("www/img/logo.png"));
  write_file(o.m("www/new.php"), "x");
  CHECK(accounts("www/new.php"));
  // A directory removed and made again is opaque: all that was below it is accounted for.
  REQUIRE(::system(("rm -rf '" + o.m("var") + "' && mkdir '" + o.m("var") + "'").c_str()) == 0);
  CHECK(accounts("var/log"));
  CHECK(accounts("var/log/old.log"));
  // The host changes the lower tree itself: upper holds www/ (copied up as a parent) but
  // nothing at the changed path.
  write_file(o.lower + "/www/robots.txt", "lower");
  CHECK_FALSE(accounts("www/robots.txt"));
  CHECK_FALSE(accounts("tmp/x"));
  // Hostile paths answer false, never follow anything.
  CHECK_FALSE(accounts("www/../www/index.html"));
  REQUIRE(::symlink("/", (o.upper + "/www/link").c_str()) == 0);
  CHECK(accounts("www/link"));            // a symlink in upper replaces the lower path
  CHECK(accounts("www/link/etc/passwd"));  // and all below it, without following it
}
