#pragma once
// Checking a tree against its manifest (quick or full, with a rolling rehash
// budget), comparing two manifests, and rendering the result (human lines, JSON).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "integrity/manifest.h"

namespace goodcop::integrity {

// What differs at one path (a bit set). Names in kind_name().
enum Kind : uint32_t {
  kAdded = 1u << 0,
  kRemoved = 1u << 1,
  kType = 1u << 2,
  kContent = 1u << 3,  // digest or size differs
  kMode = 1u << 4,
  kOwner = 1u << 5,
  kMtime = 1u << 6,
  kLink = 1u << 7,      // symlink target
  kDevice = 1u << 8,    // device numbers
  kXattr = 1u << 9,
  kHardlink = 1u << 10, // shares its inode with other paths than before
  kNlink = 1u << 11,
  kInode = 1u << 12,    // same content, other inode (deleted and recreated)
  kUnreadable = 1u << 13,  // could not be checked (changed during the check, I/O error)
};

// "added", "removed", "type", "content", "mode", "owner", "mtime", "link", "device",
// "xattr", "hardlink", "nlink", "inode", "unreadable".
const char* kind_name(Kind k);

// The facts of one side of a change, for display.
struct EntryInfo {
  EntryType type = EntryType::kFile;
  uint32_t mode = 0, uid = 0, gid = 0, nlink = 0;
  uint64_t size = 0, ino = 0, rdev = 0;
  int64_t mtime_ns = 0;
  std::string link;
  std::vector<Xattr> xattrs;
  std::string sha256;  // hex; empty when not hashed
  std::string hardlink_to;  // first path sharing the inode, if any
};

// One deviating path.
struct Change {
  std::string path;  // relative; "" is the root
  uint32_t kinds = 0;
  std::optional<EntryInfo> old_info, new_info;
  std::string note;  // why it was unreadable
};

// The result of a check: empty changes means clean.
struct Diff {
  std::vector<Change> changes;  // sorted by path; at most max_changes kept
  uint64_t added = 0, removed = 0, changed = 0;  // counts over all, kept or not
  bool truncated = false;   // more changes than max_changes
  std::string limit;        // non-empty: the scan hit a limit and stopped (a deviation)
  uint64_t entries = 0, files_hashed = 0, bytes_hashed = 0;
  bool clean() const { return added + removed + changed == 0 && limit.empty(); }
};

enum class VerifyMode {
  kQuick,  // metadata incl. ctime and inode; hash only what changed (+ the rolling budget)
  kFull,   // hash every file whose size is unchanged
};

// Where the rolling rehash stands; keep one per tree between quick checks.
struct RollingState {
  size_t cursor = 0;   // index into the manifest's entries
  uint64_t passes = 0; // completed passes over the whole manifest
};

// What quick checks learned about files whose ctime (or inode) moved while their
// bytes and xattrs stayed the manifest's (touch, chmod and back, a rewrite with the
// same bytes): "this path, at this (ctime, size, inode) on this device, hashed
// clean". Keep one per tree next to the manifest and pass it to every verify():
// such a file is then hashed once, not on every check until the baseline is
// rebuilt. Any later write moves ctime again and voids the record. Bounded by the
// manifest's file count; verify() keeps only the records the current tree still
// matches, so it never grows stale.
class VerifyCache {
 public:
  // The number of files remembered.
  size_t size() const { return seen_.size(); }
  // Forgets everything (the next check hashes every file whose ctime moved).
  void clear() {
    seen_.clear();
    dev_ = 0;
  }

 private:
  friend struct CacheAccess;
  struct Seen {
    int64_t ctime_ns = 0;
    uint64_t size = 0, ino = 0;
    std::array<uint8_t, 32> sha256{};  // the manifest's digest it matched
    uint64_t xattrs = 0;               // fingerprint of the manifest's xattrs it matched
  };
  uint64_t dev_ = 0;  // st_dev of the tree the records are about
  std::unordered_map<std::string, Seen> seen_;
};

struct VerifyOptions {
  VerifyMode mode = VerifyMode::kQuick;
  // The manifest was built from this very tree on this host, so inode and ctime
  // are meaningful. When false (a tree extracted from an archive) inode and ctime
  // are not compared and quick mode hashes every file as full mode does.
  bool local = true;
  std::vector<std::string> ignore;  // added to the manifest's own ignore globs
  bool all_xattrs = false;
  unsigned threads = 0;
  size_t max_entries = 10'000'000;
  size_t max_path = 4096;
  size_t max_changes = 10'000;
  // Quick mode: also rehash unchanged files from rolling->cursor on, up to this many
  // bytes (each file counts at least 64 KiB, for its open/close cost). 0 = none.
  uint64_t rolling_budget = 0;
};

// The per-cycle budget that rehashes `total_bytes` once every `full_every` when
// checks run every `interval` (both in the same unit).
uint64_t rolling_budget(uint64_t total_bytes, uint64_t interval, uint64_t full_every);

// Checks the tree below root_fd against m. Files known to differ (new path, other
// size, other type) are never opened for reading. Never throws for a deviation;
// throws Error/SysError when the root itself cannot be read. `cache` (quick,
// local checks only) skips files that hashed clean at their current ctime in an
// earlier check, and is updated.
Diff verify(int root_fd, const Manifest& m, const VerifyOptions& opts = {},
            RollingState* rolling = nullptr, VerifyCache* cache = nullptr);

// Compares two manifests. local: also compare inode numbers (same host, same tree).
Diff diff(const Manifest& old_m, const Manifest& new_m, bool local = false,
          size_t max_changes = 10'000);

// Human lines, one per change ("changed  etc/passwd: content, mode 0644 -> 4755"),
// paths escaped as in the manifest (a hostile name cannot drive the terminal).
std::string format_human(const Diff& d);

// The stable JSON form (docs/manifest.md, "goodcop-diff" version 1).
nlohmann::json to_json(const Diff& d);

}  // namespace goodcop::integrity
