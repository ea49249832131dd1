#pragma once
// Small filesystem operations restores and bundles need, all fd-relative and
// never following symlinks or crossing into other filesystems (a jail's tree is hostile).

#include <string>

#include "base/fd.h"

namespace goodcop::backups {

// Removes `path` and everything below it without following symlinks and without
// descending into other mounts (a mount point inside fails with EBUSY, never emptied).
// A missing path is not an error.
void remove_tree(const std::string& path);

// Removes everything below the directory `dirfd` (same rules); `what` names it in errors.
void remove_tree_contents(int dirfd, const std::string& what);

// fsync(2) of a directory by path.
void fsync_dir(const std::string& dir);

// The directory part and the last component of a path ("a/b/c" -> "a/b", "c").
std::string parent_dir(const std::string& path);
std::string base_name(const std::string& path);

// Opens `rel` below the directory `rootfd` with openat2 RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV: a symlink or mount planted by a jail on the
// way fails (ELOOP/EXDEV) instead of leading out of the tree. Throws SysError.
UniqueFd open_beneath(int rootfd, const std::string& rel, int flags, mode_t mode = 0);

// Creates `rel`'s missing parent directories below dirfd (mode 0755).
void make_parents_at(int dirfd, const std::string& rel);

}  // namespace goodcop::backups
