#pragma once
// The hostile-tree walk: metadata of every entry below a root fd, never following
// a symlink, never crossing a mount, never opening a fifo or device. Internal to
// integrity/ (the public entry points are in scan.h and verify.h).

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "integrity/glob.h"
#include "integrity/manifest.h"

namespace goodcop::integrity {

// A limit on what the tree may hold was exceeded (entries, path length).
class LimitError : public Error {
 public:
  using Error::Error;
};

struct WalkOptions {
  IgnoreSet ignore;
  bool all_xattrs = false;
  size_t max_entries = 10'000'000;
  size_t max_path = 4096;
  // When set, entries whose inode and ctime equal the reference's take their
  // xattrs from it instead of reading them (ctime moves on every xattr change).
  const Manifest* reference = nullptr;
};

struct WalkResult {
  Manifest manifest;               // sorted; regular files not hashed, their xattrs not read
  std::vector<std::string> raced;  // paths that changed under the walk (not descended)
};

// Walks the tree below root_fd (a directory). Throws LimitError, SysError.
WalkResult walk_tree(int root_fd, const WalkOptions& opts);

// Opens rel (relative; "" or "." is the root itself) beneath root_fd with openat2
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_XDEV, or component by component
// with O_NOFOLLOW and a device check where openat2 is missing. O_CLOEXEC,
// O_NOFOLLOW, O_NOCTTY and O_NONBLOCK are always added. Throws SysError.
UniqueFd open_beneath(int root_fd, std::string_view rel, int flags);

// For tests: force the O_NOFOLLOW fallback of open_beneath().
void set_openat2_disabled(bool disabled);

// The xattrs of an open fd: security.capability, or all of them. Throws SysError.
std::vector<Xattr> read_xattrs_fd(int fd, bool all, std::string_view what);

}  // namespace goodcop::integrity
