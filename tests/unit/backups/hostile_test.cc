// Hostile archives, built here with libarchive's writer, are refused; each case
// also proves nothing was written outside the extraction target.
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <random>

#include "backups/archive.h"
#include "backups/extract.h"
#include "base/error.h"
#include "tests/support/support.h"
#include "tests/unit/backups/helpers.h"

using goodcop::backups::ExpectedEntry;
using goodcop::backups::ExpectedTree;
using goodcop::backups::extract_archive;
using goodcop::backups::ExtractOptions;
using goodcop::test::make_archive;
using goodcop::test::Member;
using goodcop::test::snapshot;
using goodcop::test::dir;
using goodcop::test::file;
using goodcop::test::slink;
using goodcop::test::hlink;
using goodcop::test::device;
using goodcop::test::zeros;
using goodcop::test::TempDir;

namespace {

// A sandbox: `outside/` holds a victim file, `target/` is where extraction goes.
struct Sandbox {
  TempDir t;
  std::string outside = t / "outside";
  std::string target = t / "target";
  std::string archive = t / "a.tar.zst";
  std::map<std::string, std::string> before;
  Sandbox() {
    REQUIRE(::mkdir(outside.c_str(), 0755) == 0);
    REQUIRE(::mkdir(target.c_str(), 0755) == 0);
    goodcop::test::write_text(outside + "/victim", "precious\n");
    before = snapshot(outside);
  }
  // Extracts and returns the error message ("" when it succeeded).
  std::string extract(const ExtractOptions& o = {}) {
    try {
      extract_archive(archive, target, o);
      return "";
    } catch (const goodcop::Error& e) {
      return e.what();
    }
  }
  void require_nothing_outside() {
    CHECK(snapshot(outside) == before);
    CHECK(goodcop::test::list_dir(t.path()) ==
          std::vector<std::string>{"a.tar.zst", "outside", "target"});
  }
};

}  // namespace

TEST_CASE("extract: a plain archive is extracted with modes and symlinks", "[backups]") {
  Sandbox s;
  make_archive(s.archive, {dir("./etc"), file("./etc/hosts", "127.0.0.1 localhost\n", 0640),
                           slink("etc/link", "hosts"), hlink("etc/hl", "etc/hosts")});
  REQUIRE(s.extract() == "");
  auto snap = snapshot(s.target);
  CHECK(snap.at("etc/hosts").rfind("f 416 ", 0) == 0);
  CHECK(snap.at("etc/link").substr(snap.at("etc/link").size() - 6) == " hosts");
  struct stat a {}, b {};
  REQUIRE(::stat((s.target + "/etc/hosts").c_str(), &a) == 0);
  REQUIRE(::stat((s.target + "/etc/hl").c_str(), &b) == 0);
  CHECK(a.st_ino == b.st_ino);
  s.require_nothing_outside();
}

TEST_CASE("extract: '..' traversal is refused", "[backups][hostile]") {
  Sandbox s;
  make_archive(s.archive, {file("ok", "x"), file("../outside/victim", "pwned"), file("a/../../outside/new", "pwned")});
  CHECK(s.extract() == "extract '" + s.archive +
                           "': member '../outside/victim': unsafe path (absolute or with '..')");
  s.require_nothing_outside();
}

TEST_CASE("extract: absolute paths are refused", "[backups][hostile]") {
  Sandbox s;
  make_archive(s.archive, {file(s.outside + "/abs", "pwned")});
  CHECK(s.extract() == "extract '" + s.archive + "': member '" + s.outside +
                           "/abs': unsafe path (absolute or with '..')");
  s.require_nothing_outside();
}

TEST_CASE("extract: a write through a symlink is refused", "[backups][hostile]") {
  Sandbox s;
  SECTION("relative symlink") {
    make_archive(s.archive, {slink("link", "../outside"), file("link/victim", "pwned")});
  }
  SECTION("absolute symlink") {
    make_archive(s.archive, {slink("link", s.outside), file("link/new", "pwned")});
  }
  CHECK_THAT(s.extract(), Catch::Matches("extract '.*': member 'link/(victim|new)': below a symlink"));
  s.require_nothing_outside();
}

TEST_CASE("extract: a symlink replaced by a file of the same name is refused", "[backups][hostile]") {
  Sandbox s;
  make_archive(s.archive, {slink("link", s.outside + "/victim"), file("link", "pwned")});
  CHECK(s.extract() == "extract '" + s.archive + "': member 'link': appears twice");
  s.require_nothing_outside();
}

TEST_CASE("extract: a root that is not a directory is refused", "[backups][hostile]") {
  Sandbox s;
  make_archive(s.archive, {slink("./", s.outside), file("victim", "pwned")});
  CHECK(s.extract() == "extract '" + s.archive + "': member '.': the root must be a directory");
  s.require_nothing_outside();
}

TEST_CASE("extract: a hard link to a file outside is refused", "[backups][hostile]") {
  Sandbox s;
  std::string target;
  SECTION("relative") { target = "../outside/victim"; }
  SECTION("absolute") { target = s.outside + "/victim"; }
  SECTION("not yet extracted") { target = "later"; }
  make_archive(s.archive, {hlink("hl", target), file("hl", "pwned")});
  CHECK(s.extract() == "extract '" + s.archive + "': member 'hl': hard link to '" + target +
                           "' outside the extracted tree");
  s.require_nothing_outside();
  struct stat st {};
  REQUIRE(::stat((s.outside + "/victim").c_str(), &st) == 0);
  CHECK(st.st_nlink == 1);
}

TEST_CASE("extract: device nodes are refused unless the manifest has them", "[backups][hostile][root]") {
  GOODCOP_REQUIRE_ROOT();
  Sandbox s;
  make_archive(s.archive, {dir("dev"), device("dev/sda", 'b', 8, 0)});
  CHECK(s.extract() == "extract '" + s.archive + "': member 'dev/sda': device node not in a manifest");
  CHECK(::access((s.target + "/dev/sda").c_str(), F_OK) != 0);
  s.require_nothing_outside();

  // The same node, listed in the manifest, is created: a jail's /dev/null is legitimate.
  Sandbox ok;
  make_archive(ok.archive, {dir("dev"), device("dev/null", 'c', 1, 3, 0666)});
  ExpectedTree exp;
  exp["dev"] = ExpectedEntry{'d', 0755, 0, 0, 0, "", "", 0};
  exp["dev/null"] = ExpectedEntry{'c', 0666, 0, 0, 0, "", "", makedev(1, 3)};
  ExtractOptions o;
  o.expected = &exp;
  REQUIRE(ok.extract(o) == "");
  struct stat st {};
  REQUIRE(::lstat((ok.target + "/dev/null").c_str(), &st) == 0);
  CHECK(S_ISCHR(st.st_mode));
  CHECK(st.st_rdev == makedev(1, 3));
}

TEST_CASE("extract: setuid files are refused unless the manifest has them", "[backups][hostile]") {
  Sandbox s;
  make_archive(s.archive, {dir("bin"), file("bin/su", "#!/bin/sh\n", 04755)});
  CHECK(s.extract() == "extract '" + s.archive + "': member 'bin/su': setuid/setgid file not in a manifest");
  s.require_nothing_outside();

  Sandbox m;
  make_archive(m.archive, {dir("bin"), file("bin/su", "#!/bin/sh\n", 04755)});
  ExpectedTree exp;
  exp["bin"] = ExpectedEntry{'d', 0755, 0, 0, 0, "", "", 0};
  exp["bin/su"] = ExpectedEntry{'f', 0755, 0, 0, 10, goodcop::backups::sha256_hex("#!/bin/sh\n"), "", 0};
  ExtractOptions o;
  o.expected = &exp;
  uid_t uid = ::geteuid();
  if (uid != 0) {
    exp["bin"].uid = exp["bin/su"].uid = uid;
  }
  CHECK(m.extract(o) == "extract '" + m.archive + "': member 'bin/su': mode 4755, the manifest says 0755");
  exp["bin/su"].mode = 04755;
  if (uid == 0) {
    REQUIRE(m.extract(o) == "");
    struct stat st {};
    REQUIRE(::lstat((m.target + "/bin/su").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 04755);
  }
}

TEST_CASE("extract: a tar bomb is refused by the entry cap", "[backups][hostile]") {
  Sandbox s;
  std::vector<Member> many;
  for (int i = 0; i < 300; ++i) many.push_back(file("f" + std::to_string(i), "x"));
  make_archive(s.archive, many);
  ExtractOptions o;
  o.limits.max_entries = 100;
  CHECK(s.extract(o) == "extract '" + s.archive +
                            "': archive '" + s.archive + "': more than 100 entries (refused as a tar bomb)");
  CHECK(goodcop::test::list_dir(s.target).size() <= 100);
  s.require_nothing_outside();
}

TEST_CASE("extract: a tar bomb is refused by the byte cap", "[backups][hostile]") {
  Sandbox s;
  // 64 MiB of zeros compress to a few KB: the archive is small, the expansion is not.
  make_archive(s.archive, {zeros("bomb", int64_t{64} << 20)});
  struct stat ast {};
  REQUIRE(::stat(s.archive.c_str(), &ast) == 0);
  CHECK(ast.st_size < 64 * 1024);
  ExtractOptions o;
  o.limits.max_bytes = 1 << 20;
  CHECK(s.extract(o) == "extract '" + s.archive + "': archive '" + s.archive +
                            "': more than 1048576 bytes of data (refused as a tar bomb)");
  struct stat st {};
  if (::stat((s.target + "/bomb").c_str(), &st) == 0) {
    CHECK(st.st_blocks * 512 <= (2 << 20));
  }
  s.require_nothing_outside();
}

TEST_CASE("extract: members that differ from the manifest are refused", "[backups][hostile]") {
  Sandbox s;
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  ExpectedTree exp;
  exp["a"] = ExpectedEntry{'f', 0644, uid, gid, 5, goodcop::backups::sha256_hex("hello"), "", 0};
  ExtractOptions o;
  o.expected = &exp;
  std::string want;
  std::vector<Member> ms;
  SECTION("content") {
    ms = {file("a", "jello")};
    want = "member 'a': content differs from the manifest (sha256)";
  }
  SECTION("not listed") {
    ms = {file("a", "hello"), file("b", "extra")};
    want = "member 'b': not in the manifest";
  }
  SECTION("missing") {
    ms = {};
    want = "manifest entry 'a' missing from the archive";
  }
  SECTION("type") {
    ms = {slink("a", "/etc/shadow")};
    want = "member 'a': is a symlink, the manifest says file";
  }
  make_archive(s.archive, ms);
  // make_archive writes uid/gid 0; line the expectation up with what the archive says.
  exp["a"].uid = 0;
  exp["a"].gid = 0;
  if (ms.size() == 1 && ms[0].type == 'l') exp["a"].mode = 0644;
  CHECK(s.extract(o) == "extract '" + s.archive + "': " + want);
  s.require_nothing_outside();
}

TEST_CASE("normalize_member_path: safe paths only", "[backups]") {
  using goodcop::backups::normalize_member_path;
  CHECK(normalize_member_path("./a/b") == "a/b");
  CHECK(normalize_member_path("a//b/") == "a/b");
  CHECK(normalize_member_path("./") == ".");
  CHECK(normalize_member_path("/etc") == "");
  CHECK(normalize_member_path("a/../b") == "");
  CHECK(normalize_member_path("..") == "");
  CHECK(normalize_member_path("") == "");
}

TEST_CASE("extract: randomly damaged archives never write outside the target", "[backups][hostile]") {
  // A small fuzz loop: byte flips anywhere in an uncompressed tar (headers, pax
  // records, data). Extraction may fail or succeed, but never escapes or crashes.
  std::mt19937 rng(20261129);
  for (int i = 0; i < 100; ++i) {
    Sandbox s;
    make_archive(s.archive, {dir("etc"), file("etc/hosts", "127.0.0.1 localhost\n"),
                             slink("etc/l", "../../outside"), hlink("etc/h", "etc/hosts"),
                             file("a/b/c/deep", std::string(3000, 'z'))},
                 false);
    struct stat st {};
    REQUIRE(::stat(s.archive.c_str(), &st) == 0);
    std::uniform_int_distribution<long> at(0, st.st_size - 1);
    for (int k = 0; k < 4; ++k) goodcop::test::flip_byte(s.archive, at(rng));
    CAPTURE(i);
    (void)s.extract();
    s.require_nothing_outside();
  }
}
