// Golden archives: what a seal keeps (owners, modes, xattrs, hard links, holes,
// device nodes), the digest beside it, damaged or swapped archives refused, versions.
#include "backups/seal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>

#include "backups/archive.h"
#include "backups/restore.h"
#include "base/error.h"
#include "base/fd.h"
#include "tests/support/support.h"
#include "tests/unit/backups/helpers.h"

namespace bk = goodcop::backups;
using goodcop::test::snapshot;
using goodcop::test::TempDir;
using goodcop::test::write_text;

namespace {

// A small jail-like tree with every kind of entry a seal must keep.
void make_tree(const std::string& d) {
  REQUIRE(::mkdir(d.c_str(), 0755) == 0);
  REQUIRE(::mkdir((d + "/etc").c_str(), 0755) == 0);
  REQUIRE(::mkdir((d + "/bin").c_str(), 0755) == 0);
  REQUIRE(::mkdir((d + "/var").c_str(), 0700) == 0);
  write_text(d + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
  write_text(d + "/etc/empty", "");
  write_text(d + "/bin/tool", "#!/bin/sh\necho tool\n", 0755);
  REQUIRE(::link((d + "/bin/tool").c_str(), (d + "/bin/tool2").c_str()) == 0);
  REQUIRE(::symlink("tool", (d + "/bin/link").c_str()) == 0);
  REQUIRE(::symlink("/etc/passwd", (d + "/bin/abs").c_str()) == 0);
  REQUIRE(::mkfifo((d + "/var/fifo").c_str(), 0600) == 0);
  REQUIRE(::setxattr((d + "/etc/passwd").c_str(), "user.goodcop", "v1", 2, 0) == 0);
  // A sparse file: 64 MiB with 4 KiB of data in the middle.
  goodcop::UniqueFd f = goodcop::open_fd(d + "/var/sparse", O_WRONLY | O_CREAT, 0644);
  REQUIRE(::pwrite(f.get(), "data", 4, 32 << 20) == 4);
  REQUIRE(::ftruncate(f.get(), 64 << 20) == 0);
}

// The member names of an archive, in order.
std::vector<std::string> members(const std::string& arc) {
  goodcop::UniqueFd fd = goodcop::open_fd(arc, O_RDONLY);
  auto r = bk::open_tar_reader(fd.get(), arc);
  std::vector<std::string> out;
  archive_entry* e = nullptr;
  while (archive_read_next_header(r->get(), &e) == ARCHIVE_OK)
    out.push_back(archive_entry_pathname(e));
  return out;
}

// A tree with caches and build droppings a seal is told to leave out.
void make_ignorable_tree(const std::string& d) {
  for (const char* sub : {"", "/app", "/app/lib", "/var", "/var/cache", "/var/cache/apt"})
    REQUIRE(::mkdir((d + sub).c_str(), 0755) == 0);
  write_text(d + "/app/index.php", "<?php echo 1;\n");
  write_text(d + "/app/lib/util.pyc", "bytecode");
  write_text(d + "/app/top.pyc", "bytecode");
  write_text(d + "/var/cache/apt/pkgcache.bin", "cache");
  write_text(d + "/var/cache/motd", "cache");
}

}  // namespace

TEST_CASE("seal: an archive restores to the same tree", "[backups][seal]") {
  TempDir t;
  std::string src = t / "src", out = t / "out", arc = t / "golden.tar.zst";
  make_tree(src);
  if (::geteuid() == 0) {
    REQUIRE(::chown((src + "/etc/passwd").c_str(), 1000, 1001) == 0);
    REQUIRE(::chmod((src + "/bin/tool").c_str(), 04755) == 0);
    REQUIRE(::mknod((src + "/etc/null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0);
  }
  bk::SealResult r = bk::seal(src, arc);
  CHECK(r.sha256 == bk::sha256_file(arc));
  CHECK(goodcop::read_file(arc + ".sha256") == r.sha256 + "  golden.tar.zst\n");
  CHECK(bk::read_manifest_member(arc).size() > 0);
  CHECK(bk::sha256_hex(bk::read_manifest_member(arc)) == r.manifest_digest);
  // The sparse file's 64 MiB of holes are not in the archive.
  CHECK(r.bytes < (1 << 20));

  bk::RestoreResult v = bk::verify_archive(arc);
  CHECK(v.archive_sha256 == r.sha256);
  bk::RestoreResult rr = bk::restore_plain(arc, out);
  CHECK_FALSE(rr.replaced);
  CHECK(snapshot(out) == snapshot(src));
  struct stat a {
  }, b{}, sp{};
  REQUIRE(::stat((out + "/bin/tool").c_str(), &a) == 0);
  REQUIRE(::stat((out + "/bin/tool2").c_str(), &b) == 0);
  CHECK(a.st_ino == b.st_ino);
  REQUIRE(::stat((out + "/var/sparse").c_str(), &sp) == 0);
  CHECK(sp.st_size == (64 << 20));
  CHECK(sp.st_blocks * 512 < (1 << 20));
  char val[16] = {};
  CHECK(::getxattr((out + "/etc/passwd").c_str(), "user.goodcop", val, sizeof val) == 2);
  CHECK(std::string(val) == "v1");
}

TEST_CASE("seal: a 1 TiB sparse file is archived by its data, not its size", "[backups][seal]") {
  TempDir t;
  std::string src = t / "src", arc = t / "big.tar.zst";
  REQUIRE(::mkdir(src.c_str(), 0755) == 0);
  {
    goodcop::UniqueFd f = goodcop::open_fd(src + "/huge", O_WRONLY | O_CREAT, 0644);
    REQUIRE(::pwrite(f.get(), "needle", 6, off_t{1} << 39) == 6);
    REQUIRE(::ftruncate(f.get(), off_t{1} << 40) == 0);
  }
  // No manifest check here (hashing 1 TiB of zeros is the manifest's cost, not the seal's).
  bk::SealResult r = bk::write_tree_archive(src, arc, "", nullptr);
  CHECK(r.bytes < (64 << 10));
  std::string out = t / "out";
  REQUIRE(::mkdir(out.c_str(), 0755) == 0);
  bk::ExtractOptions o;
  o.skip_manifest_member = true;
  bk::extract_archive(arc, out, o);
  struct stat st {};
  REQUIRE(::stat((out + "/huge").c_str(), &st) == 0);
  CHECK(st.st_size == (off_t{1} << 40));
  CHECK(st.st_blocks * 512 < (1 << 20));
  goodcop::UniqueFd f = goodcop::open_fd(out + "/huge", O_RDONLY);
  char buf[7] = {};
  REQUIRE(::pread(f.get(), buf, 6, off_t{1} << 39) == 6);
  CHECK(std::string(buf) == "needle");
}

TEST_CASE("seal: a damaged archive is refused and nothing is touched", "[backups][seal]") {
  TempDir t;
  std::string src = t / "src", dst = t / "dst", arc = t / "g.tar.zst";
  make_tree(src);
  bk::SealResult r = bk::seal(src, arc);
  REQUIRE(::mkdir(dst.c_str(), 0755) == 0);
  write_text(dst + "/mine", "old tree\n");
  auto before = snapshot(dst);
  goodcop::test::flip_byte(arc, 100);
  std::string got = bk::sha256_file(arc);
  try {
    bk::restore_plain(arc, dst);
    FAIL("restore accepted a damaged archive");
  } catch (const goodcop::Error& e) {
    CHECK(std::string(e.what()) == "restore '" + dst + "': archive '" + arc +
                                       "': sha256 mismatch (expected " + r.sha256 + ", found " +
                                       got + "): damaged or swapped, refused");
  }
  CHECK(snapshot(dst) == before);
  CHECK(goodcop::test::list_dir(t.path()) ==
        std::vector<std::string>{"dst", "g.tar.zst", "g.tar.zst.sha256", "src"});
}

TEST_CASE("seal: a swapped archive is refused", "[backups][seal]") {
  TempDir t;
  std::string a = t / "a", b = t / "b";
  make_tree(a);
  make_tree(b);
  write_text(b + "/etc/passwd", "evil::0:0::/:/bin/sh\n");
  bk::seal(a, t / "a.tar.zst");
  bk::seal(b, t / "b.tar.zst");
  REQUIRE(::rename((t / "b.tar.zst").c_str(), (t / "a.tar.zst").c_str()) == 0);
  CHECK_THROWS_WITH(
      bk::verify_archive(t / "a.tar.zst"),
      Catch::Contains("sha256 mismatch") && Catch::Contains("damaged or swapped, refused"));
}

TEST_CASE("seal: an archive whose members lie about the manifest is refused", "[backups][seal]") {
  // An attacker who can rewrite both the archive and its .sha256 still cannot make a
  // member differ from the manifest inside it.
  TempDir t;
  std::string src = t / "src", arc = t / "g.tar.zst", dst = t / "dst";
  make_tree(src);
  bk::SealResult r = bk::seal(src, arc);
  std::string manifest = bk::read_manifest_member(arc);
  write_text(src + "/etc/passwd", "evil::0:0::/:/bin/sh\n");
  bk::write_tree_archive(src, arc, manifest, nullptr);  // stale manifest, fresh digest
  CHECK_THROWS_WITH(
      bk::verify_archive(arc),
      Catch::EndsWith("member 'etc/passwd': content differs from the manifest (sha256)"));
  CHECK_THROWS_WITH(
      bk::restore_plain(arc, dst),
      Catch::EndsWith("member 'etc/passwd': content differs from the manifest (sha256)"));
  CHECK(::access(dst.c_str(), F_OK) != 0);
  CHECK(::access(bk::staging_path(dst).c_str(), F_OK) != 0);
}

TEST_CASE("seal: golden versions, current pointer and roll back", "[backups][seal]") {
  TempDir t;
  std::string src = t / "src", golden = t / "golden";
  make_tree(src);
  bk::GoldenVersion v1 = bk::golden_seal(src, golden);
  write_text(src + "/etc/motd", "v2\n");
  bk::GoldenVersion v2 = bk::golden_seal(src, golden);
  CHECK(v1.number == 1);
  CHECK(v2.number == 2);
  CHECK(v2.path == golden + "/2.tar.zst");
  CHECK(bk::golden_current(golden) == golden + "/2.tar.zst");
  auto list = bk::golden_list(golden);
  REQUIRE(list.size() == 2);
  CHECK_FALSE(list[0].current);
  CHECK(list[1].current);
  bk::golden_set_current(golden, 1);
  CHECK(bk::golden_current(golden) == golden + "/1.tar.zst");
  CHECK_THROWS_WITH(bk::golden_set_current(golden, 7), "golden '" + golden + "': no version 7");
  bk::verify_archive(bk::golden_current(golden));
}

TEST_CASE("seal: ignored paths are in neither the manifest nor the archive", "[backups][seal]") {
  TempDir t;
  std::string src = t / "src", arc = t / "g.tar.zst", jail = t / "jail";
  make_ignorable_tree(src);
  bk::SealOptions o;
  o.ignore = {"var/cache/**", "/**/*.pyc"};
  bk::SealResult r = bk::seal(src, arc, o);
  CHECK(r.entries == 6);  // ., app, app/index.php, app/lib, var, var/cache
  std::vector<std::string> want = {".goodcop/MANIFEST", "./",   "app/",      "app/index.php",
                                   "app/lib/",          "var/", "var/cache/"};
  auto got = members(arc);
  std::sort(got.begin() + 1, got.end());
  CHECK(got == want);
  std::string manifest = bk::read_manifest_member(arc);
  for (const char* gone : {"pkgcache", "motd", "util.pyc", "top.pyc"})
    CHECK(manifest.find(gone) == std::string::npos);
  CHECK(manifest.find("var/cache/**") != std::string::npos);  // the globs are recorded
  // It restores and verifies: what was left out is not missed.
  bk::verify_archive(arc);
  bk::restore_plain(arc, jail);
  auto s_src = snapshot(src), s_jail = snapshot(jail);
  for (auto it = s_src.begin(); it != s_src.end();) {
    bool ignored =
        it->first.rfind("var/cache/", 0) == 0 || it->first.find(".pyc") != std::string::npos;
    it = ignored ? s_src.erase(it) : std::next(it);
  }
  CHECK(s_jail == s_src);
  // A bad glob is refused before anything is written.
  o.ignore = {"a**"};
  CHECK_THROWS_WITH(bk::seal(src, t / "bad.tar", o),
                    "seal '" + src + "': ignore glob 'a**': '**' must be a whole path component");
  CHECK(::access((t / "bad.tar").c_str(), F_OK) != 0);
}
