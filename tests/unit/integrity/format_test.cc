// The manifest text form: round trip, bsdtar compatibility, and refusal of
// every damaged input (a manifest may come from an archive an attacker touched).
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "base/error.h"
#include "integrity/hash.h"
#include "integrity/manifest.h"
#include "integrity/scan.h"
#include "tests/unit/integrity/tree_fixture.h"

using namespace goodcop;
using namespace goodcop::test;
namespace in = goodcop::integrity;

namespace {

// Re-seals an edited body with a correct digest line: the parser must then
// refuse it for what it says, not for its digest.
std::string reseal(const std::string& text) {
  size_t last = text.rfind("#goodcop-sha256 ");
  std::string body = text.substr(0, last);
  return body + "#goodcop-sha256 " + in::hex(in::sha256_of(body)) + "\n";
}

std::string replace_once(std::string s, const std::string& from, const std::string& to) {
  size_t at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("a manifest round-trips through its text form") {
  Tree t;
  write_text(t / "a/b/we ird\tname#=\\\xff", "odd");
  t.snap({"var/log/**"});
  std::string text = in::write_manifest(t.m);
  in::Manifest back = in::parse_manifest(text);
  CHECK(in::write_manifest(back) == text);
  CHECK(back.ignore == std::vector<std::string>{"var/log/**"});
  REQUIRE(back.find("a/b/we ird\tname#=\\\xff") != nullptr);
  CHECK(text.find("./a/b/we\\040ird\\011name\\043\\075\\134\\377 type=file") != std::string::npos);
  CHECK(back.link_target(*back.find("a/s")) == "f");
  CHECK(text.substr(0, 27) == "#mtree\n#goodcop-manifest 1\n");
}

TEST_CASE("bsdtar (libarchive's mtree reader) lists a manifest without complaint") {
  if (::access("/usr/bin/bsdtar", X_OK) != 0) {
    WARN("skipped: /usr/bin/bsdtar missing (Debian package libarchive-tools)");
    return;
  }
  Tree t;
  write_text(t.dir / "manifest.mtree", in::write_manifest(t.m));
  RunResult r = run({"/usr/bin/bsdtar", "-tf", t.dir / "manifest.mtree"});
  CHECK(r.err == "");
  CHECK(r.status == 0);
  CHECK(r.out == ".\n./a\n./a/b\n./a/b/deep\n./a/f\n./a/g\n./a/s\n./big\n./bin\n./bin/tool\n./e\n");
}

TEST_CASE("a damaged manifest is refused: one flipped byte") {
  Tree t;
  std::string text = in::write_manifest(t.m);
  text[text.find("mode=0755")] = 'M';
  CHECK_THROWS_WITH(in::parse_manifest(text), "manifest: digest mismatch (the manifest is damaged)");
}

TEST_CASE("a truncated manifest is refused") {
  Tree t;
  std::string text = in::write_manifest(t.m);
  CHECK_THROWS_WITH(in::parse_manifest(text.substr(0, text.size() / 2)),
                    "manifest: truncated (no final newline)");
  size_t cut = text.rfind('\n', text.size() / 2);
  CHECK_THROWS_WITH(in::parse_manifest(text.substr(0, cut + 1)),
                    "manifest: truncated (no digest line at the end)");
  CHECK_THROWS_WITH(in::parse_manifest(""), "manifest: truncated (no final newline)");
}

TEST_CASE("a manifest with a wrong digest is refused") {
  Tree t;
  std::string text = in::write_manifest(t.m);
  std::string bad = text.substr(0, text.size() - 65) + std::string(64, '0') + "\n";
  CHECK_THROWS_WITH(in::parse_manifest(bad), "manifest: digest mismatch (the manifest is damaged)");
  CHECK_THROWS_WITH(in::parse_manifest(text + "./extra type=dir\n"),
                    "manifest: truncated (no digest line at the end)");
}

TEST_CASE("a reordered or duplicated manifest is refused even with a fresh digest") {
  Tree t;
  std::string text = in::write_manifest(t.m);
  // Swap the entries of a/f and a/g (with their "#+" lines).
  size_t f = text.find("./a/f "), g = text.find("./a/g "), s = text.find("./a/s ");
  std::string ef = text.substr(f, g - f), eg = text.substr(g, s - g);
  std::string swapped = text.substr(0, f) + eg + ef + text.substr(s);
  CHECK_THROWS_WITH(in::parse_manifest(reseal(swapped)),
                    Catch::Matchers::EndsWith("path 'a/f' is out of order or repeated"));
  std::string dup = text.substr(0, g) + ef + text.substr(g);
  CHECK_THROWS_WITH(in::parse_manifest(reseal(dup)),
                    Catch::Matchers::EndsWith("path 'a/f' is out of order or repeated"));
}

TEST_CASE("a manifest with bad content is refused even with a fresh digest") {
  Tree t;
  std::string text = in::write_manifest(t.m);
  using Catch::Matchers::EndsWith;
  CHECK_THROWS_WITH(in::parse_manifest(reseal(replace_once(text, " type=link", " type=link colour=red"))),
                    EndsWith("unknown keyword 'colour'"));
  CHECK_THROWS_WITH(in::parse_manifest(reseal(replace_once(text, "#goodcop-manifest 1", "#goodcop-manifest 2"))),
                    "manifest: line 2: unsupported manifest version '2'");
  CHECK_THROWS_WITH(in::parse_manifest(reseal(replace_once(text, "#mtree", "#tree"))),
                    "manifest: line 1: not a goodcop manifest (expected '#mtree')");
  CHECK_THROWS_WITH(in::parse_manifest(reseal(replace_once(text, "./a/f ", "./a/../../etc/shadow "))),
                    EndsWith("bad path './a/../../etc/shadow'"));
  CHECK_THROWS_WITH(in::parse_manifest(reseal(replace_once(text, "mode=0755", "mode=9755"))),
                    EndsWith("mode: expected four octal digits"));
  CHECK_THROWS_WITH(in::parse_manifest(reseal(replace_once(text, " sha256digest=", " sha256digest=ab"))),
                    EndsWith("sha256digest: expected 64 hex digits"));
  CHECK_THROWS_WITH(in::parse_manifest(reseal(replace_once(text, "./big ", "./bih/x "))),
                    EndsWith("parent of 'bih/x' is not a directory in the manifest"));
  in::ManifestLimits small;
  small.max_entries = 3;
  CHECK_THROWS_WITH(in::parse_manifest(text, small), EndsWith("more entries than the limit"));
}

TEST_CASE("load_manifest names the file in its errors") {
  TempDir d;
  write_text(d / "m", "#mtree\n");
  CHECK_THROWS_WITH(in::load_manifest(d / "m"),
                    "'" + (d / "m") + "': manifest: truncated (no digest line at the end)");
}

TEST_CASE("load_manifest reads the whole file, and refuses one over the size limit") {
  Tree t;
  TempDir d;
  const std::string text = in::write_manifest(t.m);
  write_text(d / "m", text);
  in::Manifest back = in::load_manifest(d / "m");
  CHECK(in::write_manifest(back) == text);
  in::ManifestLimits exact;
  exact.max_bytes = text.size();
  CHECK(in::load_manifest(d / "m", exact).size() == t.m.size());
  in::ManifestLimits small;
  small.max_bytes = text.size() - 1;
  CHECK_THROWS_WITH(in::load_manifest(d / "m", small), "read '" + (d / "m") + "': File too large");
  // Not a regular file (no size to trust): read in growing steps, limit still applies.
  CHECK_THROWS_WITH(in::load_manifest("/dev/zero", small), "read '/dev/zero': File too large");
}

TEST_CASE("a manifest of more entries than one formatting chunk is written in order and reads back the same") {
  in::Manifest m;
  in::Entry dir;
  dir.type = in::EntryType::kDir;
  dir.mode = 0755;
  dir.nlink = 2;
  m.add("", dir);
  m.add("d", dir);
  for (int i = 0; i < 20000; ++i) {
    in::Entry f;
    f.type = in::EntryType::kFile;
    f.mode = 0644;
    f.nlink = 1;
    f.ino = static_cast<uint64_t>(i) + 100;
    f.size = static_cast<uint64_t>(i);
    f.hashed = true;
    f.sha256[0] = static_cast<uint8_t>(i);
    char name[32];
    std::snprintf(name, sizeof name, "d/f%06d", i);
    m.add(name, f);
  }
  m.sort();
  const std::string text = in::write_manifest(m);
  in::Manifest back = in::parse_manifest(text);
  REQUIRE(back.size() == m.size());
  for (size_t i = 0; i < m.size(); ++i) {
    REQUIRE(back.path(back.entries()[i]) == m.path(m.entries()[i]));
    REQUIRE(back.entries()[i].ino == m.entries()[i].ino);
  }
  CHECK(in::write_manifest(back) == text);
  // Every entry is two lines, after the two header lines and before the digest.
  CHECK(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) == 2 + 2 * m.size() + 1);
}
