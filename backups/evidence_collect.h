#pragma once
// Reading the deviating files of a (possibly hostile, frozen) jail tree for an
// evidence bundle: dirfd-relative, never following symlinks, O_NONBLOCK (a planted
// fifo must not hang the collector), fstat before trusting a type, size caps.
// Internal to backups/.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace goodcop::backups {

// One path as found.
struct CollectedFile {
  std::string path;  // relative to the tree root
  char type = 'f';   // f d l c b p s
  uint32_t mode = 0, uid = 0, gid = 0;
  uint64_t size = 0, rdev = 0;
  int64_t mtime_ns = 0;
  std::string link;   // symlink target
  std::string data;   // regular files: content (at most the cap)
  bool truncated = false;
  std::string note;   // why something is missing ("absent", "parent is a symlink", ...)
};

// Caps on a collection.
struct CollectLimits {
  uint64_t max_file_bytes = uint64_t{64} << 20;
  uint64_t max_total_bytes = uint64_t{1} << 30;
  uint64_t max_files = 100'000;
};

// Collects `paths` (or, when whole_tree, everything) below `root`.
std::vector<CollectedFile> collect_files(const std::string& root,
                                         const std::vector<std::string>& paths, bool whole_tree,
                                         const CollectLimits& limits);

// The metadata of one collected file as stored in the bundle's files.json.
nlohmann::json file_json(const CollectedFile& f, const std::string& sha256);

}  // namespace goodcop::backups
