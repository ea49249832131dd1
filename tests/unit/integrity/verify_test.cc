// "Nothing slips through": each deviation of issue 4 is one TEST_CASE that fails
// when the check misses it, in quick and in full mode.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "integrity/scan.h"
#include "integrity/verify.h"
#include "tests/unit/integrity/tree_fixture.h"

using namespace goodcop;
using namespace goodcop::test;
namespace in = goodcop::integrity;

namespace {

// Both modes must report exactly `kinds` (bits) at `path` (other bits allowed: `extra`).
void both_catch(const Tree& t, const std::string& path, uint32_t kinds) {
  in::Diff q = t.quick(), f = t.full();
  INFO("quick:\n" << in::format_human(q) << "full:\n" << in::format_human(f));
  CHECK_FALSE(q.clean());
  CHECK_FALSE(f.clean());
  CHECK((kinds_at(q, path) & kinds) == kinds);
  CHECK((kinds_at(f, path) & kinds) == kinds);
}

}  // namespace

TEST_CASE("an unchanged tree is clean in quick and full mode, and quick hashes nothing") {
  Tree t;
  in::Diff q = t.quick(), f = t.full();
  CHECK(q.clean());
  CHECK(f.clean());
  CHECK(q.files_hashed == 0);
  CHECK(f.files_hashed == 5);
  CHECK(in::format_human(q).empty());
}

TEST_CASE("content changed with the same size and mtime reset: quick catches it via ctime") {
  Tree t;
  rewrite_same_size_keep_mtime(t / "a/b/deep", "DEEP FILE\n");
  in::Diff q = t.quick();
  CHECK(changed_paths(q) == std::vector<std::string>{"a/b/deep"});
  CHECK(kinds_at(q, "a/b/deep") == in::kContent);
  CHECK(q.files_hashed == 1);  // only the file whose ctime moved
  CHECK(kinds_at(t.full(), "a/b/deep") == in::kContent);
  CHECK(in::format_human(q) == "changed  a/b/deep: content\n");
}

TEST_CASE("content changed with all metadata kept: the rolling rehash finds it within a pass") {
  Tree t;
  rewrite_same_size_keep_mtime(t / "a/b/deep", "DEEP FILE\n");
  // Make the manifest blind to it, as a change no metadata shows would be
  // (a write to the block device under the filesystem): take the new ctime in.
  struct stat st {};
  REQUIRE(::stat((t / "a/b/deep").c_str(), &st) == 0);
  for (in::Entry& e : t.m.entries())
    if (t.m.path(e) == "a/b/deep") e.ctime_ns = st.st_ctim.tv_sec * 1'000'000'000 + st.st_ctim.tv_nsec;
  CHECK(t.quick().clean());  // metadata alone cannot see it
  CHECK(kinds_at(t.full(), "a/b/deep") == in::kContent);
  in::RollingState rs;
  bool found = false;
  int cycles = 0;
  // A budget of one small file per cycle: every file within (files) cycles.
  for (; cycles < 10 && !found; ++cycles) found = kinds_at(t.quick(1, &rs), "a/b/deep") == in::kContent;
  CHECK(found);
  CHECK(cycles <= 5);
}

TEST_CASE("rolling_budget spreads the tree over full_every") {
  CHECK(in::rolling_budget(1000, 5, 100) == 50);
  CHECK(in::rolling_budget(1001, 5, 100) == 51);  // rounded up: never late
  CHECK(in::rolling_budget(1000, 100, 5) == 1000);
  CHECK(in::rolling_budget(1000, 5, 0) == 1000);
}

TEST_CASE("a file replaced by a symlink is a type change") {
  Tree t;
  REQUIRE(::unlink((t / "big").c_str()) == 0);
  REQUIRE(::symlink("a/f", (t / "big").c_str()) == 0);
  both_catch(t, "big", in::kType);
}

TEST_CASE("a file replaced by a hard link of another file is caught") {
  Tree t;
  REQUIRE(::unlink((t / "bin/tool").c_str()) == 0);
  REQUIRE(::link((t / "big").c_str(), (t / "bin/tool").c_str()) == 0);
  both_catch(t, "bin/tool", in::kContent | in::kHardlink | in::kInode);
  CHECK((kinds_at(t.quick(), "big") & in::kHardlink) != 0);
}

TEST_CASE("a symlink retargeted is a link change") {
  Tree t;
  REQUIRE(::unlink((t / "a/s").c_str()) == 0);
  REQUIRE(::symlink("g", (t / "a/s").c_str()) == 0);
  both_catch(t, "a/s", in::kLink);
  in::Diff q = t.quick();
  CHECK(in::format_human(q).find("link 'f' -> 'g'") != std::string::npos);
}

TEST_CASE("chmod u+s and g+s are mode changes") {
  Tree t;
  REQUIRE(::chmod((t / "bin/tool").c_str(), 04755) == 0);
  both_catch(t, "bin/tool", in::kMode);
  CHECK(in::format_human(t.quick()) == "changed  bin/tool: mode 0755 -> 4755\n");
  REQUIRE(::chmod((t / "bin/tool").c_str(), 02755) == 0);
  both_catch(t, "bin/tool", in::kMode);
  CHECK(in::format_human(t.full()) == "changed  bin/tool: mode 0755 -> 2755\n");
}

TEST_CASE("a file added in a new subdirectory is reported with the directory") {
  Tree t;
  REQUIRE(::mkdir((t / "a/new").c_str(), 0755) == 0);
  write_text(t / "a/new/shell.php", "<?php system($_GET['c']);");
  in::Diff q = t.quick();
  CHECK(kinds_at(q, "a/new") == in::kAdded);
  CHECK(kinds_at(q, "a/new/shell.php") == in::kAdded);
  CHECK(q.added == 2);
  CHECK(q.files_hashed == 0);  // new paths are never read
  CHECK(kinds_at(t.full(), "a/new/shell.php") == in::kAdded);
}

TEST_CASE("an empty directory added or removed is caught") {
  Tree t;
  REQUIRE(::mkdir((t / "a/empty2").c_str(), 0700) == 0);
  both_catch(t, "a/empty2", in::kAdded);
  REQUIRE(::rmdir((t / "a/empty2").c_str()) == 0);
  REQUIRE(::rmdir((t / "e").c_str()) == 0);
  both_catch(t, "e", in::kRemoved);
}

TEST_CASE("a fifo added is reported and never opened") {
  Tree t;
  REQUIRE(::mkfifo((t / "a/pipe").c_str(), 0644) == 0);
  both_catch(t, "a/pipe", in::kAdded);
  // A fifo where a file was: a type change, and the check does not block on it.
  REQUIRE(::unlink((t / "big").c_str()) == 0);
  REQUIRE(::mkfifo((t / "big").c_str(), 0644) == 0);
  both_catch(t, "big", in::kType);
}

TEST_CASE("a file deleted and recreated identically, with another inode, is caught") {
  Tree t;
  struct stat st {};
  REQUIRE(::stat((t / "big").c_str(), &st) == 0);
  write_text(t / "big.tmp", "0123456789");
  struct timespec ts[2] = {st.st_atim, st.st_mtim};
  REQUIRE(::utimensat(AT_FDCWD, (t / "big.tmp").c_str(), ts, 0) == 0);
  REQUIRE(::rename((t / "big.tmp").c_str(), (t / "big").c_str()) == 0);
  both_catch(t, "big", in::kInode);
  CHECK(kinds_at(t.quick(), "big") == in::kInode);  // same bytes: content is not blamed
}

TEST_CASE("a hard link broken is caught on both paths") {
  Tree t;
  REQUIRE(::unlink((t / "a/g").c_str()) == 0);
  write_text(t / "a/g", "hello\n");
  both_catch(t, "a/g", in::kHardlink);
  both_catch(t, "a/f", in::kHardlink | in::kNlink);
}

TEST_CASE("a file grown past its manifest size is not read: 1 TB sparse file") {
  Tree t;
  UniqueFd fd = open_fd(t / "big", O_WRONLY);
  REQUIRE(::ftruncate(fd.get(), off_t{1} << 40) == 0);
  UniqueFd fd2 = open_fd(t / "a/huge", O_WRONLY | O_CREAT, 0644);
  REQUIRE(::ftruncate(fd2.get(), off_t{1} << 40) == 0);
  in::Diff f = t.full();
  CHECK((kinds_at(f, "big") & in::kContent) != 0);  // and mtime: truncate moved it
  CHECK(kinds_at(f, "a/huge") == in::kAdded);
  CHECK(f.bytes_hashed < 1024);  // the small files only
  CHECK(in::format_human(f).find("changed  big: content (size 10 -> 1099511627776)") != std::string::npos);
}

TEST_CASE("ignore globs exclude exactly what they say") {
  Tree t;
  REQUIRE(::mkdir((t / "var").c_str(), 0755) == 0);
  REQUIRE(::mkdir((t / "var/log").c_str(), 0755) == 0);
  write_text(t / "var/log/app.log", "x");
  write_text(t / "var/logx", "keep");
  t.snap({"var/log/**", "**/*.pyc"});
  CHECK(t.m.find("var/log") != nullptr);  // the directory itself is kept
  CHECK(t.m.find("var/log/app.log") == nullptr);
  write_text(t / "var/log/app.log", "grown log");
  write_text(t / "var/log/new.log", "y");
  write_text(t / "a/b/x.pyc", "bytecode");
  CHECK(t.quick().clean());
  CHECK(t.full().clean());
  // Neighbours of the ignored paths are still watched.
  write_text(t / "var/logx", "KEEP");
  write_text(t / "a/b/x.pyc.txt", "not bytecode");
  REQUIRE(::chmod((t / "var/log").c_str(), 0700) == 0);
  in::Diff q = t.quick();
  CHECK(changed_paths(q) == std::vector<std::string>{"a/b/x.pyc.txt", "var/log", "var/logx"});
  CHECK(kinds_at(q, "var/log") == in::kMode);
}

TEST_CASE("entry limits make a check a deviation, and a build an error") {
  Tree t;
  in::VerifyOptions o;
  o.max_entries = 5;
  in::Diff d = in::verify(t.root.get(), t.m, o);
  CHECK_FALSE(d.clean());
  CHECK(d.limit == "scan: more than 5 entries");
  in::ScanOptions so;
  so.max_entries = 5;
  CHECK_THROWS_WITH(in::build_manifest(t.root.get(), so), "scan: more than 5 entries");
}

TEST_CASE("diff of two manifests lists what changed between builds") {
  Tree t;
  in::Manifest before = t.m;
  rewrite_same_size_keep_mtime(t / "big", "9876543210");
  REQUIRE(::chmod((t / "a/f").c_str(), 0600) == 0);
  t.snap();
  in::Diff d = in::diff(before, t.m);
  CHECK(changed_paths(d) == std::vector<std::string>{"a/f", "a/g", "big"});
  CHECK(kinds_at(d, "big") == in::kContent);
  CHECK(kinds_at(d, "a/f") == in::kMode);
  CHECK(in::diff(before, before).clean());
}

TEST_CASE("a manifest of 200,000 entries stays within a few tens of MB") {
  in::Manifest m;
  in::Entry e;
  e.type = in::EntryType::kFile;
  e.hashed = true;
  m.add("", in::Entry{});
  for (int i = 0; i < 200'000; ++i)
    m.add("var/www/site" + std::to_string(i % 50) + "/htdocs/assets/file-" + std::to_string(i) + ".php", e);
  m.sort();
  INFO("bytes: " << m.memory_bytes());
  CHECK(m.memory_bytes() < 40u << 20);
  CHECK(sizeof(in::Entry) <= 112);
}

namespace {

in::Diff quick_cached(const Tree& t, const in::Manifest& m, in::VerifyCache* cache) {
  in::VerifyOptions o;
  o.mode = in::VerifyMode::kQuick;
  return in::verify(t.root.get(), m, o, nullptr, cache);
}

}  // namespace

TEST_CASE("a file whose ctime moved but whose bytes are sealed is hashed once with a cache") {
  Tree t;
  // chmod and back: ctime moves, nothing else does.
  REQUIRE(::chmod((t / "bin/tool").c_str(), 04755) == 0);
  REQUIRE(::chmod((t / "bin/tool").c_str(), 0755) == 0);
  CHECK(t.quick().files_hashed == 1);
  CHECK(t.quick().files_hashed == 1);  // without a cache: on every check
  in::VerifyCache cache;
  in::Diff d1 = quick_cached(t, t.m, &cache);
  CHECK(d1.clean());
  CHECK(d1.files_hashed == 1);
  CHECK(cache.size() == 1);
  in::Diff d2 = quick_cached(t, t.m, &cache);
  CHECK(d2.clean());
  CHECK(d2.files_hashed == 0);
  CHECK(cache.size() == 1);

  // A later write moves ctime again: hashed, caught, and no longer remembered.
  rewrite_same_size_keep_mtime(t / "bin/tool", "#!/bin/sh\necho HI\n");
  in::Diff d3 = quick_cached(t, t.m, &cache);
  CHECK(kinds_at(d3, "bin/tool") == in::kContent);
  CHECK(d3.files_hashed == 1);
  CHECK(cache.size() == 0);
  CHECK(kinds_at(quick_cached(t, t.m, &cache), "bin/tool") == in::kContent);

  // The sealed bytes put back: clean again after one more hash.
  rewrite_same_size_keep_mtime(t / "bin/tool", "#!/bin/sh\necho hi\n");
  CHECK(quick_cached(t, t.m, &cache).files_hashed == 1);
  CHECK(quick_cached(t, t.m, &cache).files_hashed == 0);
  cache.clear();
  CHECK(quick_cached(t, t.m, &cache).files_hashed == 1);
}

TEST_CASE("a verify cache record is not trusted against another manifest or in full mode") {
  Tree t;
  REQUIRE(::chmod((t / "big").c_str(), 0600) == 0);
  REQUIRE(::chmod((t / "big").c_str(), 0644) == 0);
  in::VerifyCache cache;
  REQUIRE(quick_cached(t, t.m, &cache).files_hashed == 1);
  REQUIRE(quick_cached(t, t.m, &cache).files_hashed == 0);
  // Another baseline says other bytes: the record (made against the first) is void.
  in::Manifest other = t.m;
  for (in::Entry& e : other.entries())
    if (other.path(e) == "big") e.sha256[0] ^= 1;
  in::Diff d = quick_cached(t, other, &cache);
  CHECK(d.files_hashed == 1);
  CHECK(kinds_at(d, "big") == in::kContent);
  // Full mode hashes every file whatever the cache says.
  in::VerifyOptions o;
  o.mode = in::VerifyMode::kFull;
  CHECK(in::verify(t.root.get(), t.m, o, nullptr, &cache).files_hashed == 5);
}
