#include "backups/restore.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "backups/fsops.h"
#include "backups/manifest_glue.h"
#include "backups/seal.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/scope_exit.h"

namespace goodcop::backups {
namespace {

std::string clean_dir(const std::string& dir) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  return d;
}

bool exists_at(int dirfd, const std::string& rel) {
  struct stat st {};
  return ::fstatat(dirfd, rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

// Moves `rel` from the tree `src` into the tree `dst` (same filesystem), replacing
// what `dst` has there. Resolves both sides beneath their roots without following
// symlinks: the old tree belongs to a possibly hostile jail.
void move_across(int src, int dst, const std::string& rel) {
  std::string parent = parent_dir(rel), name = base_name(rel);
  UniqueFd sp;
  try {
    sp = parent == "." ? UniqueFd(check(::fcntl(src, F_DUPFD_CLOEXEC, 0), "dup", rel))
                       : open_beneath(src, parent, O_RDONLY | O_DIRECTORY);
  } catch (const SysError& e) {
    // Missing, or reached through a symlink or another mount the jail planted: not
    // carried (following it could move a host directory into the jail).
    if (e.code() == ENOENT || e.code() == ELOOP || e.code() == EXDEV || e.code() == ENOTDIR)
      return;
    throw;
  }
  if (!exists_at(sp.get(), name)) return;
  make_parents_at(dst, rel);
  UniqueFd dp = parent == "." ? UniqueFd(check(::fcntl(dst, F_DUPFD_CLOEXEC, 0), "dup", rel))
                              : open_beneath(dst, parent, O_RDONLY | O_DIRECTORY);
  if (exists_at(dp.get(), name)) {
    struct stat st {};
    check(::fstatat(dp.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW), "fstatat", rel);
    if (S_ISDIR(st.st_mode)) {
      UniqueFd d = openat_fd(dp.get(), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      remove_tree_contents(d.get(), rel);
      check(::unlinkat(dp.get(), name.c_str(), AT_REMOVEDIR), "rmdir", rel);
    } else {
      check(::unlinkat(dp.get(), name.c_str(), 0), "unlink", rel);
    }
  }
  check(::renameat(sp.get(), name.c_str(), dp.get(), name.c_str()), "rename", rel);
}

}  // namespace

std::string staging_path(const std::string& dir) {
  std::string d = clean_dir(dir);
  return parent_dir(d) + "/.goodcop-staging-" + base_name(d);
}

RestoreResult verify_archive(const std::string& archive, const RestoreOptions& opts) {
  try {
    RestoreResult r;
    r.archive_sha256 = verify_archive_digest(archive, opts.expected_digest);
    TreeManifest m = parse_tree_manifest(read_manifest_member(archive));
    r.manifest_digest = sha256_hex(m.text);
    ExtractOptions xo;
    xo.limits = opts.limits;
    xo.expected = &m.expected;
    xo.skip_manifest_member = true;
    xo.dry_run = true;
    ExtractStats st = extract_archive(archive, "/", xo);
    r.entries = st.entries;
    r.bytes = st.bytes;
    return r;
  } catch (...) {
    rethrow_with_context("verify");
  }
}

void recover_staging(const std::string& dir, const std::vector<std::string>& keep) {
  std::string staging = staging_path(dir);
  struct stat st {};
  if (::lstat(staging.c_str(), &st) < 0) {
    if (errno == ENOENT) return;
    throw SysError("lstat", staging, errno);
  }
  if (S_ISDIR(st.st_mode) && !keep.empty()) {
    // A restore killed while carrying `keep` paths across left some of them here:
    // they go back to the tree before the leftover is removed.
    UniqueFd s = open_fd(staging, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    UniqueFd d = open_fd(clean_dir(dir), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    for (const auto& k : keep) {
      std::string rel = normalize_member_path(k);
      if (rel.empty() || rel == ".") continue;
      bool in_tree = false;
      try {
        std::string parent = parent_dir(rel);
        UniqueFd p = parent == "." ? UniqueFd(check(::fcntl(d.get(), F_DUPFD_CLOEXEC, 0), "dup", rel))
                                   : open_beneath(d.get(), parent, O_RDONLY | O_DIRECTORY);
        in_tree = exists_at(p.get(), base_name(rel));
      } catch (const SysError&) {
      }
      if (!in_tree) move_across(s.get(), d.get(), rel);
    }
  }
  remove_tree(staging);
}

RestoreResult restore_plain(const std::string& archive, const std::string& dir_in,
                            const RestoreOptions& opts) {
  std::string dir = clean_dir(dir_in);
  try {
    RestoreResult r;
    r.archive_sha256 = verify_archive_digest(archive, opts.expected_digest);
    TreeManifest m = parse_tree_manifest(read_manifest_member(archive));
    r.manifest_digest = sha256_hex(m.text);
    std::vector<std::string> keep;
    for (const auto& k : opts.keep) {
      std::string rel = normalize_member_path(k);
      if (rel.empty() || rel == ".") throw Error("keep path '" + k + "' is not inside the tree");
      keep.push_back(rel);
    }

    // One restore of `dir` at a time. The extraction helper is passed the lock (hold_fd),
    // so a restore killed mid-way holds it until its helper is dead too: the next one
    // waits instead of racing a dying writer in the staging tree.
    std::string staging = staging_path(dir);
    UniqueFd lock = open_fd(staging + ".lock", O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
    while (::flock(lock.get(), LOCK_EX) < 0) {
      if (errno != EINTR) throw SysError("flock", staging + ".lock", errno);
    }
    recover_staging(dir, keep);
    check(::mkdir(staging.c_str(), 0700), "mkdir", staging);
    // On failure: keep paths already carried in go back, then the staging tree goes.
    // On success `staging` is the old tree, and dropping it is the last step.
    ScopeExit drop_staging([&] { recover_staging(dir, keep); });

    ExtractOptions xo;
    xo.limits = opts.limits;
    xo.expected = &m.expected;
    xo.skip_manifest_member = true;
    xo.hold_fd = lock.get();
    ExtractStats st = extract_archive(archive, staging, xo);
    r.entries = st.entries;
    r.bytes = st.bytes;
    TreeCheck c = verify_tree(staging, m);
    if (!c.clean)
      throw Error("extracted tree differs from the manifest: " + c.diff_json);

    struct stat dst {};
    r.replaced = ::lstat(dir.c_str(), &dst) == 0;
    if (!r.replaced && errno != ENOENT) throw SysError("lstat", dir, errno);
    if (r.replaced) {
      if (!S_ISDIR(dst.st_mode)) throw Error("'" + dir + "' is not a directory");
      UniqueFd old = open_fd(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      UniqueFd fresh = open_fd(staging, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      for (const auto& k : keep) move_across(old.get(), fresh.get(), k);
      // The one step that changes what `dir` is: atomic, and the old tree stays whole.
      check(::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE),
            "renameat2", dir);
    } else {
      check(::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, dir.c_str(), RENAME_NOREPLACE),
            "renameat2", dir);
    }
    fsync_dir(parent_dir(dir));
    return r;
  } catch (...) {
    rethrow_with_context("restore '" + dir + "'");
  }
}

}  // namespace goodcop::backups
