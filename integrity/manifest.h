#pragma once
// The manifest of a tree: one compact Entry per path, sorted by path, and its
// versioned mtree(5)-style text form (docs/manifest.md) ending with a SHA-256 of
// itself, so a damaged manifest is refused, never trusted.

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace goodcop::integrity {

// The type of an entry; the manifest keyword is in type_name().
enum class EntryType : uint8_t { kFile, kDir, kSymlink, kFifo, kChar, kBlock, kSocket };

// "file", "dir", "link", "fifo", "char", "block", "socket" (mtree(5) names).
std::string_view type_name(EntryType t);

// One extended attribute: name and raw value.
using Xattr = std::pair<std::string, std::string>;

// One path of the tree. Kept small (about 100 bytes): the path, symlink target
// and xattrs live in the owning Manifest and are reached through it.
struct Entry {
  uint32_t path_off = 0;  // into Manifest's path arena
  uint32_t path_len = 0;
  uint32_t extra = kNoExtra;  // index of the link target / xattrs, if any
  uint32_t mode = 0;          // permission bits incl. setuid/setgid/sticky (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t nlink = 0;
  EntryType type = EntryType::kFile;
  bool hashed = false;  // sha256 holds the content digest (regular files)
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;  // host-local: a jailed process cannot set it back
  uint64_t ino = 0;      // host-local; also the hard-link identity
  uint64_t rdev = 0;     // device numbers of char/block nodes
  std::array<uint8_t, 32> sha256{};

  static constexpr uint32_t kNoExtra = UINT32_MAX;
};

// The entries of one tree, sorted by path (byte order; the root is "" and comes first).
class Manifest {
 public:
  // Appends an entry; call sort() before lookups when paths were not added in order.
  void add(std::string_view path, Entry e, std::string_view link_target = {},
           std::vector<Xattr> xattrs = {});
  // Reserves room for `entries` entries, `path_bytes` bytes of paths and
  // `extras` entries with a link target or xattrs: add() within them moves no
  // memory (another thread may read the entries added so far).
  void reserve(size_t entries, size_t path_bytes, size_t extras = 0) {
    entries_.reserve(entries);
    arena_.reserve(path_bytes);
    extras_.reserve(extras);
  }
  // Bytes of all paths (the arena's size).
  size_t path_bytes() const { return arena_.size(); }
  // Reorders the entries: entry i of the result is entry order[i] now (order is a
  // permutation of [0, size())).
  void permute(const std::vector<uint32_t>& order);
  // Sorts by path. Throws Error on a duplicate path.
  void sort();

  const std::vector<Entry>& entries() const { return entries_; }
  std::vector<Entry>& entries() { return entries_; }
  size_t size() const { return entries_.size(); }

  // The relative path of e ("" for the root, "etc/passwd" below it).
  std::string_view path(const Entry& e) const { return {arena_.data() + e.path_off, e.path_len}; }
  // The symlink target of e (empty when none).
  std::string_view link_target(const Entry& e) const;
  // The recorded xattrs of e, sorted by name.
  const std::vector<Xattr>& xattrs(const Entry& e) const;
  // Replaces the xattrs of e.
  void set_xattrs(Entry& e, std::vector<Xattr> xattrs);

  // The entry for path, or nullptr (binary search; requires sort()).
  const Entry* find(std::string_view path) const;

  // Ignore globs the manifest was built with (recorded in its header).
  std::vector<std::string> ignore;

  // Bytes of heap this manifest holds (for the memory budget).
  size_t memory_bytes() const;

 private:
  struct Extra {
    std::string link;
    std::vector<Xattr> xattrs;
  };
  std::vector<Entry> entries_;
  std::string arena_;
  std::vector<Extra> extras_;
};

// Limits on what a manifest file may hold (a manifest can come from an archive).
struct ManifestLimits {
  size_t max_entries = 10'000'000;
  size_t max_path = 4096;
  size_t max_bytes = size_t{4} << 30;
};

// The text form, version 1 (docs/manifest.md), with its trailing digest line.
std::string write_manifest(const Manifest& m);

// The same bytes, handed to `sink` piece by piece in order on the calling thread
// (the last piece is the digest line), formatted on every core: a caller can
// write a large manifest out without holding all of its text at once. An
// exception from sink stops the writing and is rethrown.
void write_manifest(const Manifest& m, const std::function<void(std::string_view)>& sink);

// Parses and checks the text form; throws Error ("manifest: line N: ...") on any
// damage: bad header or version, unknown keyword, bad value, unsorted or duplicate
// path, missing or wrong digest, anything after the digest.
Manifest parse_manifest(std::string_view text, const ManifestLimits& limits = {});

// Reads FILE and parses it; errors name the file.
Manifest load_manifest(const std::string& file, const ManifestLimits& limits = {});

// Escapes a path or name the way the manifest writes it (vis(3)-style octal for
// bytes outside printable ASCII, and for '\\', '#', '=' and space); safe to print.
std::string escape_name(std::string_view raw);

// Lower-case hex of a digest.
std::string hex(const std::array<uint8_t, 32>& d);

}  // namespace goodcop::integrity
