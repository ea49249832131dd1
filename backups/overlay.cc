#include "backups/overlay.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>

#include "backups/fsops.h"
#include "backups/manifest_glue.h"
#include "backups/seal.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/scope_exit.h"

namespace goodcop::backups {

std::string prepare_lower(const std::string& archive, const std::string& lower_root,
                          const ExtractLimits& limits) {
  try {
    std::string digest = verify_archive_digest(archive);
    if (::mkdir(lower_root.c_str(), 0700) < 0 && errno != EEXIST)
      throw SysError("mkdir", lower_root, errno);
    std::string lower = lower_root + "/" + digest;
    struct stat st {};
    if (::lstat(lower.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) throw Error("'" + lower + "' is not a directory");
      return lower;
    }
    // Unique per call: threads of one daemon may prepare the same version at once.
    static std::atomic<uint64_t> serial{0};
    std::string tmp = lower + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(++serial);
    remove_tree(tmp);
    check(::mkdir(tmp.c_str(), 0700), "mkdir", tmp);
    ScopeExit drop_tmp([&] { remove_tree(tmp); });
    TreeManifest m = parse_tree_manifest(read_manifest_member(archive));
    ExtractOptions xo;
    xo.limits = limits;
    xo.expected = &m.expected;
    xo.skip_manifest_member = true;
    extract_archive(archive, tmp, xo);
    TreeCheck c = verify_tree(tmp, m);
    if (!c.clean) throw Error("extracted tree differs from the manifest: " + c.diff_json);
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, lower.c_str(), RENAME_NOREPLACE) < 0) {
      // Another preparation of the same version won the race: its tree is as good as ours.
      if (errno == EEXIST && ::lstat(lower.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return lower;
      throw SysError("renameat2", lower, errno);
    }
    drop_tmp.dismiss();
    fsync_dir(lower_root);
    return lower;
  } catch (...) {
    rethrow_with_context("prepare lower '" + archive + "'");
  }
}

bool discard_lower(const std::string& lower, dev_t dev, ino_t ino) {
  static std::mutex mu;  // the check and the rename are one step for this daemon's threads
  static std::atomic<uint64_t> serial{0};
  std::string aside = lower + ".discard." + std::to_string(::getpid()) + "." + std::to_string(++serial);
  {
    std::lock_guard lock(mu);
    struct stat st {};
    if (::lstat(lower.c_str(), &st) < 0) {
      if (errno == ENOENT) return false;
      throw SysError("lstat", lower, errno);
    }
    if (!S_ISDIR(st.st_mode) || st.st_dev != dev || st.st_ino != ino) return false;
    // Out of prepare_lower's way first (a rename is atomic), then removed at leisure.
    check(::renameat2(AT_FDCWD, lower.c_str(), AT_FDCWD, aside.c_str(), RENAME_NOREPLACE),
          "rename", lower);
  }
  remove_tree(aside);
  return true;
}

UpperDirs upper_dirs(const std::string& state_dir) {
  return {state_dir + "/upper", state_dir + "/work"};
}

std::string reset_upper(const std::string& state_dir) {
  UpperDirs u = upper_dirs(state_dir);
  std::string prev = state_dir + "/upper.prev";
  std::string kept;
  struct stat st {};
  if (::lstat(u.upper.c_str(), &st) == 0) {
    remove_tree(prev);
    check(::rename(u.upper.c_str(), prev.c_str()), "rename", u.upper);
    kept = prev;
  }
  // overlayfs' workdir must be empty at mount time and on the upper's filesystem.
  remove_tree(u.work);
  check(::mkdir(u.upper.c_str(), 0755), "mkdir", u.upper);
  check(::mkdir(u.work.c_str(), 0700), "mkdir", u.work);
  fsync_dir(state_dir);
  return kept;
}

void mount_overlay(const std::string& lower, const std::string& state_dir,
                   const std::string& target) {
  UpperDirs u = upper_dirs(state_dir);
  for (const std::string* p :
       std::initializer_list<const std::string*>{&lower, &u.upper, &u.work}) {
    if (p->find_first_of(",:\\") != std::string::npos)
      throw Error("overlay: path '" + *p + "' contains ',', ':' or '\\'");
  }
  std::string opts = "lowerdir=" + lower + ",upperdir=" + u.upper + ",workdir=" + u.work;
  check(::mount("overlay", target.c_str(), "overlay", MS_NODEV | MS_NOSUID, opts.c_str()),
        "mount overlay", target);
}

void unmount_overlay(const std::string& target) {
  check(::umount2(target.c_str(), UMOUNT_NOFOLLOW), "umount", target);
}

}  // namespace goodcop::backups
