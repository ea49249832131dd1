#pragma once
// Building a manifest of a (possibly hostile) tree: a safe metadata walk, then
// SHA-256 of every regular file in parallel.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "integrity/manifest.h"

namespace goodcop::integrity {

// Progress of the hashing phase, reported about every 200 ms.
struct Progress {
  uint64_t files_done = 0, files_total = 0;
  uint64_t bytes_done = 0, bytes_total = 0;
};

// How to scan a tree. The walk never follows symlinks and never crosses mounts.
struct ScanOptions {
  std::vector<std::string> ignore;  // globs (glob.h); recorded in the manifest
  bool all_xattrs = false;          // all xattrs, not only security.capability
  unsigned threads = 0;             // hashing threads; 0 = one per core
  size_t max_entries = 10'000'000;  // a jail controls the tree: bound it
  size_t max_path = 4096;
  std::function<void(const Progress&)> progress;  // called on the calling thread
};

// Opens a tree root given by the (trusted) host path; O_DIRECTORY, O_CLOEXEC.
UniqueFd open_tree(const std::string& root);

// The tree changed under a build (an entry renamed or removed between its listing and its
// open, a file resized while it was hashed): the manifest would describe no one state of
// it. A caller that expects a still tree (the daemon's first check after a restore) takes
// it as a deviation, not as a failure to retry: a jail churning files must not keep its
// tree from ever being checked.
class TreeChanged : public Error {
 public:
  using Error::Error;
};

// Builds the manifest of the tree below root_fd. Throws TreeChanged as above (build from a
// quiet tree), Error/SysError when the tree cannot be read.
Manifest build_manifest(int root_fd, const ScanOptions& opts = {});
Manifest build_manifest(const std::string& root, const ScanOptions& opts = {});

// The same, handing the manifest's text form (write_manifest's bytes) to sink on
// the calling thread as it is joined after the walk (the writing overlaps the
// join; the chunks are formatted on every core). Nothing reaches sink when the
// build throws TreeChanged; an exception from sink stops the build.
Manifest build_manifest(int root_fd, const ScanOptions& opts,
                        const std::function<void(std::string_view)>& sink);
Manifest build_manifest(const std::string& root, const ScanOptions& opts,
                        const std::function<void(std::string_view)>& sink);

// The number of hashing threads `threads` means (0 = one per core).
unsigned hash_threads(unsigned threads);

}  // namespace goodcop::integrity
