// Overlay mode: one verified lower tree per archive version, a restore is a fresh
// empty upper, the old upper is kept for evidence, and a size-limited upper.
#include "backups/overlay.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <vector>

#include "backups/evidence.h"
#include "backups/seal.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/scope_exit.h"
#include "tests/support/support.h"
#include "tests/unit/backups/helpers.h"

namespace bk = goodcop::backups;
using goodcop::test::snapshot;
using goodcop::test::write_text;

TEST_CASE("overlay: shared lower, fresh upper, old upper kept, quota", "[backups][overlay][root]") {
  GOODCOP_REQUIRE_ROOT();
  goodcop::test::TmpfsMount m("64m");
  std::string base = m.path();
  std::string src = base + "/src", lowers = base + "/lower", state = base + "/state",
              merged = base + "/merged", arc = base + "/g.tar.zst";
  REQUIRE(::mkdir(src.c_str(), 0755) == 0);
  REQUIRE(::mkdir((src + "/etc").c_str(), 0755) == 0);
  write_text(src + "/etc/version", "golden\n");
  bk::SealResult sr = bk::seal(src, arc);

  std::string lower = bk::prepare_lower(arc, lowers);
  CHECK(lower == lowers + "/" + sr.sha256);
  auto lower_snap = snapshot(lower);
  CHECK(lower_snap == snapshot(src));
  struct stat l1 {
  }, l2{};
  REQUIRE(::stat(lower.c_str(), &l1) == 0);
  CHECK(bk::prepare_lower(arc, lowers) == lower);  // shared: not extracted again
  REQUIRE(::stat(lower.c_str(), &l2) == 0);
  CHECK(l1.st_ino == l2.st_ino);

  REQUIRE(::mkdir(state.c_str(), 0700) == 0);
  REQUIRE(::mkdir(merged.c_str(), 0755) == 0);
  bk::mount_upper_quota(state, 2 << 20);
  goodcop::ScopeExit unquota([&] { ::umount2(state.c_str(), MNT_DETACH); });
  CHECK(bk::reset_upper(state) == "");
  bk::mount_overlay(lower, state, merged);
  {
    goodcop::ScopeExit unmount([&] { ::umount2(merged.c_str(), MNT_DETACH); });
    write_text(merged + "/etc/version", "defaced\n");
    write_text(merged + "/shell.php", "<?php\n");
    // The quota: a jail cannot write more than its upper filesystem holds.
    {
      goodcop::UniqueFd big = goodcop::open_fd(merged + "/fill", O_WRONLY | O_CREAT, 0644);
      std::string mb(1 << 20, 'x');
      int err = 0;
      for (int i = 0; i < 4 && err == 0; ++i) {
        if (::write(big.get(), mb.data(), mb.size()) < 0) err = errno;
      }
      CHECK(err == ENOSPC);
    }
    CHECK(snapshot(lower) == lower_snap);  // every write landed in upper
    bk::unmount_overlay(merged);
    unmount.dismiss();
  }
  std::string prev = bk::reset_upper(state);
  CHECK(prev == state + "/upper.prev");
  CHECK(goodcop::read_file(prev + "/shell.php") == "<?php\n");
  CHECK(goodcop::test::list_dir(state + "/upper").empty());
  bk::mount_overlay(lower, state, merged);
  goodcop::ScopeExit unmount2([&] { ::umount2(merged.c_str(), MNT_DETACH); });
  CHECK(goodcop::read_file(merged + "/etc/version") == "golden\n");
  CHECK(::access((merged + "/shell.php").c_str(), F_OK) != 0);
}

TEST_CASE("overlay: a damaged archive never becomes a lower tree", "[backups][overlay]") {
  goodcop::test::TempDir t;
  std::string src = t / "src";
  REQUIRE(::mkdir(src.c_str(), 0755) == 0);
  write_text(src + "/f", "x\n");
  bk::seal(src, t / "g.tar.zst");
  goodcop::test::flip_byte(t / "g.tar.zst", 64);
  CHECK_THROWS_WITH(bk::prepare_lower(t / "g.tar.zst", t / "lower"),
                    Catch::StartsWith("prepare lower '" + t / "g.tar.zst" + "': archive '") &&
                        Catch::EndsWith("damaged or swapped, refused"));
  CHECK(::access((t / "lower").c_str(), F_OK) != 0);
}

namespace {

// The source of the mount on `dir` in /proc/self/mountinfo ("" when none).
std::string mount_source(const std::string& dir) {
  std::string info = goodcop::read_file("/proc/self/mountinfo");
  std::string source;
  size_t pos = 0;
  while (pos < info.size()) {
    size_t eol = info.find('\n', pos);
    std::string line = info.substr(pos, eol - pos);
    pos = eol == std::string::npos ? info.size() : eol + 1;
    // "id parent major:minor root mountpoint options ... - fstype source superopts"
    std::vector<std::string> f;
    for (size_t i = 0; i < line.size();) {
      size_t j = line.find(' ', i);
      if (j == std::string::npos) j = line.size();
      f.push_back(line.substr(i, j - i));
      i = j + 1;
    }
    if (f.size() < 5 || f[4] != dir) continue;
    for (size_t k = 5; k + 2 < f.size(); ++k)
      if (f[k] == "-") source = f[k + 1] + " " + f[k + 2];
  }
  return source;
}

}  // namespace

TEST_CASE("overlay: the disk quota is a sparse loop image, and a full jail cannot starve evidence",
          "[backups][overlay][root]") {
  GOODCOP_REQUIRE_ROOT();
  goodcop::test::TmpfsMount m("64m");
  std::string base = m.path();
  std::string src = base + "/src", lowers = base + "/lower", state = base + "/rw",
              merged = base + "/merged", arc = base + "/g.tar.zst", image = base + "/rw.img";
  REQUIRE(::mkdir(src.c_str(), 0755) == 0);
  write_text(src + "/index.html", "golden\n");
  bk::seal(src, arc);
  std::string lower = bk::prepare_lower(arc, lowers);
  REQUIRE(::mkdir(state.c_str(), 0700) == 0);
  REQUIRE(::mkdir(merged.c_str(), 0755) == 0);

  // A leftover image of a crashed run is replaced, not trusted.
  write_text(image, "not a filesystem");
  CHECK(bk::upper_quota_image(state) == image);
  bk::mount_upper_quota(state, 8 << 20);
  goodcop::ScopeExit unquota([&] {
    ::umount2(state.c_str(), MNT_DETACH);
    ::unlink(image.c_str());
  });
  std::string source = mount_source(state);
  CHECK(source.rfind("ext4 /dev/loop", 0) == 0);
  struct stat img {};
  REQUIRE(::stat(image.c_str(), &img) == 0);
  CHECK(img.st_size == 8 << 20);
  CHECK(img.st_blocks * 512 < img.st_size / 2);  // sparse: only what mkfs wrote
  CHECK_THROWS_WITH(
      bk::mount_upper_quota(state, 8 << 20),
      "disk quota '" + state + "': already a mount point (unmount_upper_quota first)");

  CHECK(bk::reset_upper(state) == "");
  bk::mount_overlay(lower, state, merged);
  {
    goodcop::ScopeExit unmount([&] { ::umount2(merged.c_str(), MNT_DETACH); });
    write_text(merged + "/shell.php", "<?php system($_GET['c']);\n");
    // The jail fills its quota...
    {
      goodcop::UniqueFd big = goodcop::open_fd(merged + "/fill", O_WRONLY | O_CREAT, 0644);
      std::string mb(1 << 20, 'x');
      int err = 0;
      for (int i = 0; i < 16 && err == 0; ++i) {
        if (::write(big.get(), mb.data(), mb.size()) < 0) err = errno;
      }
      CHECK(err == ENOSPC);
    }
    // ...and its evidence, the whole upper, is still written: the bundle lives outside.
    bk::Incident in;
    in.jail = "web1";
    in.trigger = "tamper";
    in.detected_at = std::chrono::system_clock::now();
    in.collector = "test";
    in.tree_root = bk::upper_dirs(state).upper;
    in.whole_tree = true;
    bk::EvidenceOptions eo;
    eo.dir = base + "/evidence";
    bk::BundleInfo b = bk::write_bundle(in, eo);
    bk::BundleReport r = bk::verify_bundle(b.path);
    CAPTURE(r.problems);
    CHECK(r.ok());
    bool has_shell = false;
    for (const auto& [name, size] : r.members) has_shell |= name == "files/shell.php";
    CHECK(has_shell);
    bk::unmount_overlay(merged);
    unmount.dismiss();
  }
  bk::unmount_upper_quota(state);
  unquota.dismiss();
  CHECK(mount_source(state).empty());
  CHECK(::access(image.c_str(), F_OK) != 0);
  // The loop device let go of the image (autoclear on the last unmount).
  std::string dev = source.substr(source.find("/dev/") + 5);
  CHECK(::access(("/sys/block/" + dev + "/loop/backing_file").c_str(), F_OK) != 0);
  bk::unmount_upper_quota(state);  // idempotent
}
