#pragma once
// The hostile-tree walk: metadata of every entry below a root fd, never following
// a symlink, never crossing a mount, never opening a fifo or device. Internal to
// integrity/ (the public entry points are in scan.h and verify.h).

#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "integrity/glob.h"
#include "integrity/manifest.h"
#include "integrity/xattrs.h"

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
  // Directories are walked (and files hashed) on this many threads.
  unsigned threads = 1;
  // Regular files for which this returns true (given the path and the entry as
  // fstatat saw it) are opened relative to their directory's fd, checked to be
  // that same file, and hashed on the walking thread: the entry then has its
  // sha256, its xattrs, and the metadata fstat saw before the first read.
  // Called on walker threads (must be thread-safe). Empty: no file is opened.
  std::function<bool(std::string_view rel, const Entry& e)> want_hash;
  // Every regular file is hashed (a build): want_hash is not asked, and a name
  // getdents calls a regular file is not fstatat'ed first — it is opened and the
  // fstat of the open fd is its one stat (metadata and bytes of the same inode).
  // A name that is no longer a regular file on the tree's filesystem by then is a
  // kChanged issue. Saves a syscall and a lookup per file.
  bool hash_all = false;
  // Files of [defer_min, defer_max) bytes to hash are left for whichever worker
  // has no directory to read: they fill the end of the walk on every core while
  // a larger file, found late, is still being hashed on one (a 150 MB file took
  // ~0.1 s alone after a 200,000-file walk), largest first. At most
  // defer_count files of a walk are deferred; each is reopened by its path
  // beneath the root and checked to be the same inode. Files of defer_max bytes
  // and more are hashed where they are found.
  uint64_t defer_min = uint64_t{1} << 20;
  uint64_t defer_max = uint64_t{16} << 20;
  size_t defer_count = 1024;
  // For tests: called with the path of a deferred file right before it is
  // reopened (a test changes the file there). Called on walker threads.
  std::function<void(std::string_view rel)> before_deferred;
  // A build that writes its manifest: when set and nothing changed under the
  // walk (raced and issues empty), the manifest's text form (write_manifest's
  // bytes, manifest_ignore in its header) is handed to text_sink on the calling
  // thread while another thread joins the directories' entries into it (the
  // chunks are formatted on every core as soon as they are joined), instead of
  // after the join. Nothing reaches text_sink when something changed.
  std::function<void(std::string_view)> text_sink;
  std::vector<std::string> manifest_ignore;
  // Called on the calling thread about every 200 ms with the files and bytes
  // hashed so far and the files and bytes of regular files seen so far.
  std::function<void(uint64_t files, uint64_t bytes, uint64_t files_seen, uint64_t bytes_seen)> progress;
};

// A regular file that was to be hashed and could not be, as it was.
struct FileIssue {
  std::string path;
  enum What : uint8_t {
    kChanged,  // not the file the walk saw (replaced, vanished, swapped for a link)
    kResized,  // grew or shrank while it was read
    kError,    // an I/O error (error holds the SysError)
  } what = kChanged;
  std::exception_ptr error;
  std::string note;  // the error's message for kError
};

struct WalkResult {
  Manifest manifest;               // sorted; regular files hashed only where want_hash said so
  std::vector<std::string> raced;  // directories that changed under the walk (not descended)
  std::vector<FileIssue> issues;   // sorted by path
  uint64_t files_hashed = 0, bytes_hashed = 0;
};

// Walks the tree below root_fd (a directory) on opts.threads threads: each
// directory is opened beneath the root (open_beneath), read once, its entries
// fstatat'ed, and the files to hash opened by name relative to it (O_NOFOLLOW,
// then fstat: same inode, same device, a regular file). Throws LimitError, SysError.
WalkResult walk_tree(int root_fd, const WalkOptions& opts);

// Opens rel (relative; "" or "." is the root itself) beneath root_fd with openat2
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_XDEV, or component by component
// with O_NOFOLLOW and a device check where openat2 is missing. O_CLOEXEC,
// O_NOFOLLOW, O_NOCTTY and O_NONBLOCK are always added. Throws SysError.
UniqueFd open_beneath(int root_fd, std::string_view rel, int flags);

// Opens one name (from getdents: no '/', never "." or "..") below dirfd for
// reading, with O_CLOEXEC|O_NOFOLLOW|O_NOCTTY|O_NONBLOCK and extra_flags. openat2
// refuses a symlink and a mount point (also a bind mount from the same
// filesystem); the fallback refuses the symlink and leaves the device check to
// the caller's fstat. Returns the fd or -errno.
int open_child(int dirfd, const char* name, int extra_flags = 0);

// For tests: force the O_NOFOLLOW fallback of open_beneath() and open_child().
void set_openat2_disabled(bool disabled);

}  // namespace goodcop::integrity
