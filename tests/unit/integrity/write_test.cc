// Writing manifests: the hand-written formatter says exactly what the format
// documents, the streamed writer gives the same bytes as the string one, and a
// build puts names that prefix each other in byte order without a global sort.
#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "base/error.h"
#include "base/fd.h"
#include "integrity/hash.h"
#include "integrity/manifest.h"
#include "integrity/scan.h"
#include "integrity/verify.h"
#include "tests/support/support.h"

using namespace goodcop;
using namespace goodcop::test;
namespace in = goodcop::integrity;

namespace {

in::Manifest many_entries(int n) {
  in::Manifest m;
  in::Entry dir;
  dir.type = in::EntryType::kDir;
  dir.mode = 0755;
  m.add("", dir);
  m.add("d", dir);
  for (int i = 0; i < n; ++i) {
    in::Entry f;
    f.type = in::EntryType::kFile;
    f.ino = static_cast<uint64_t>(i) + 7;
    f.size = static_cast<uint64_t>(i);
    char name[32];
    std::snprintf(name, sizeof name, "d/f%06d", i);
    m.add(name, f);
  }
  m.sort();
  return m;
}

// Every path below root, as the walk should list it (the root as "").
void list_tree(const std::string& root, const std::string& rel, std::vector<std::string>& out) {
  out.push_back(rel);
  DIR* d = ::opendir((rel.empty() ? root : root + "/" + rel).c_str());
  REQUIRE(d != nullptr);
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string child = rel.empty() ? name : rel + "/" + name;
    if (e->d_type == DT_DIR) {
      list_tree(root, child, out);
    } else {
      out.push_back(child);
    }
  }
  ::closedir(d);
}

}  // namespace

TEST_CASE("the formatter writes every keyword as the format documents it") {
  in::Manifest m;
  in::Entry root;
  root.type = in::EntryType::kDir;
  root.mode = 0;
  root.mtime_ns = -500'000'000;  // half a second before 1970
  root.ctime_ns = 0;
  m.add("", root);
  in::Entry dev;
  dev.type = in::EntryType::kChar;
  dev.mode = 06620;
  dev.uid = 4294967295u;
  dev.gid = 5;
  dev.nlink = 1;
  dev.ino = UINT64_MAX;
  dev.rdev = ::makedev(4095, 1048575);
  dev.mtime_ns = 1'700'000'000'000'000'001;
  dev.ctime_ns = -1'000'000'000;
  m.add("dev", dev, {}, {{"user.b", std::string("\x00\xff", 2)}, {"security.capability", "\x01"}});
  in::Entry link;
  link.type = in::EntryType::kSymlink;
  link.mode = 0777;
  link.nlink = 1;
  link.ino = 10;
  m.add("l nk", link, "../t#=\\\x7f");
  in::Entry file;
  file.type = in::EntryType::kFile;
  file.mode = 04755;
  file.nlink = 2;
  file.ino = 11;
  file.size = 9223372036854775807u;  // the largest the parser takes (off_t)
  file.mtime_ns = 999'999'999;
  file.sha256[0] = 0xab;
  file.sha256[31] = 0x01;
  m.add("x", file);
  const std::string text = in::write_manifest(m);
  const std::string zeros(60, '0');
  const std::string want =
      "#mtree\n#goodcop-manifest 1\n"
      ". type=dir mode=0000 uid=0 gid=0 nlink=0 inode=0 time=-1.500000000\n"
      "#+ ctime=0.000000000\n"
      "./dev type=char mode=6620 uid=4294967295 gid=5 nlink=1 inode=18446744073709551615"
      " time=1700000000.000000001 device=linux,4095,1048575\n"
      "#+ ctime=-1.000000000 xattr.security.capability=01 xattr.user.b=00ff\n"
      "./l\\040nk type=link mode=0777 uid=0 gid=0 nlink=1 inode=10 time=0.000000000"
      " link=../t\\043\\075\\134\\177\n"
      "#+ ctime=0.000000000\n"
      "./x type=file mode=4755 uid=0 gid=0 nlink=2 inode=11 time=0.999999999"
      " size=9223372036854775807 sha256digest=ab" +
      zeros +
      "01\n"
      "#+ ctime=0.000000000\n";
  REQUIRE(text.substr(0, want.size()) == want);
  CHECK(text.substr(want.size()) == "#goodcop-sha256 " + in::hex(in::sha256_of(want)) + "\n");
  CHECK(in::write_manifest(in::parse_manifest(text)) == text);
}

TEST_CASE("the streamed writer hands on the string writer's bytes in order, the digest line last") {
  in::Manifest m = many_entries(30000);  // several formatting chunks
  m.ignore = {"var/log/**"};
  const std::string whole = in::write_manifest(m);
  std::vector<std::string> pieces;
  in::write_manifest(m, [&](std::string_view p) { pieces.emplace_back(p); });
  CHECK(pieces.size() > 3);
  std::string joined;
  for (const std::string& p : pieces) joined += p;
  CHECK(joined == whole);
  CHECK(pieces.back().rfind("#goodcop-sha256 ", 0) == 0);
  CHECK(pieces.front().rfind("#mtree\n#goodcop-manifest 1\n#goodcop-ignore var/log/**\n", 0) == 0);
}

TEST_CASE("a sink that fails stops the streamed writer and its error comes out") {
  in::Manifest m = many_entries(100000);
  int calls = 0;
  auto failing = [&](std::string_view) {
    if (++calls == 3) throw SysError("write", "out.mtree", ENOSPC);
  };
  CHECK_THROWS_WITH(in::write_manifest(m, failing), "write 'out.mtree': No space left on device");
  CHECK(calls == 3);
}

TEST_CASE("a build lists names that prefix each other in byte order, and each path once") {
  TempDir t;
  // '-' (0x2d) < '.' (0x2e) < '/' (0x2f) < '0': "a" < "a-b" < "a.txt" < "a/..." < "a0".
  for (std::string d : {"a", "a/b", "a/b/c", "a.d", "a0", "ab", "a\x01"})
    REQUIRE(::mkdir((t / d).c_str(), 0755) == 0);
  for (std::string f :
       {"a-b", "a.txt", "a/b.c", "a/b-c", "a/b/c/x", "a/bb", "a.d/y", "a0/z", "a\x01/q", "b"})
    write_file_atomic(t / f, f, 0644);
  REQUIRE(::symlink("a", (t / "a ").c_str()) == 0);
  in::Manifest m = in::build_manifest(t.path());
  std::vector<std::string> want;
  list_tree(t.path(), "", want);
  std::sort(want.begin(), want.end());
  std::vector<std::string> got;
  for (const in::Entry& e : m.entries()) got.emplace_back(m.path(e));
  CHECK(got == want);  // the byte order of whole paths, each once
  UniqueFd root = in::open_tree(t.path());
  in::VerifyOptions full;
  CHECK(in::verify(root.get(), in::parse_manifest(in::write_manifest(m)), full).clean());
}

TEST_CASE("cli: build -o FILE streams the bytes build -o - prints, and leaves no temporary file") {
  TempDir t, out;
  REQUIRE(::mkdir((t / "d").c_str(), 0755) == 0);
  for (int i = 0; i < 50; ++i)
    write_file_atomic(t / ("d/f" + std::to_string(i)), std::to_string(i), 0644);
  RunResult to_file = run_goodcop({"manifest", "build", t.path(), "-o", out / "m.mtree"});
  REQUIRE(to_file.status == 0);
  CHECK(to_file.out ==
        "wrote '" + (out / "m.mtree") + "': 52 entries, 50 files, 90 bytes hashed\n");
  RunResult to_stdout = run_goodcop({"manifest", "build", t.path(), "-o", "-"});
  REQUIRE(to_stdout.status == 0);
  CHECK(read_file(out / "m.mtree") == to_stdout.out);
  CHECK(in::parse_manifest(to_stdout.out).size() == 52);
  std::vector<std::string> names;
  list_tree(out.path(), "", names);
  CHECK(names == std::vector<std::string>{"", "m.mtree"});
}
