#pragma once
// What the walk (walk.cc) keeps per directory until it joins the entries into
// the manifest, and the per-directory steps that need no walker state: the
// entry of a stat, the order of a directory's names. Internal to integrity/.

#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory_resource>
#include <string>
#include <utility>
#include <vector>

#include "integrity/manifest.h"

namespace goodcop::integrity::detail {

// The entry of what fstat/fstatat saw.
Entry make_entry(const struct stat& st);

// Errors of an open or stat that mean "the tree changed here", not a failure.
bool raced_errno(int err);

struct DirNode;

// An entry read from one directory; it joins the manifest when the walk is done.
struct Local {
  uint32_t path_off, path_len;  // into the directory's own arena
  uint32_t name_off;            // where the last component starts
  uint32_t extra = UINT32_MAX;  // into the directory's extras
  bool hash = false;
  bool unstated = false;  // hash_all: no fstatat yet, e is only the type (the fd's fstat fills it)
  bool dropped = false;   // a second entry of the same name (the directory changed while read)
  uint64_t dev = 0;       // st_dev: a subdirectory on another device is a mount point
  DirNode* child = nullptr;  // the subdirectory's node, when it is descended
  Entry e;
};

// What the worker that read one directory learned, kept until the walk ends and
// then joined into the manifest in path order (Walker::emit): no worker waits on
// a shared manifest, and no sort of all paths is needed after the walk. Its
// memory comes from the reading worker's pool.
struct DirNode {
  explicit DirNode(std::pmr::memory_resource* pool) : arena(pool), locals(pool), order(pool) {}
  std::pmr::string arena;          // the entries' relative paths, each NUL-terminated (for openat)
  std::pmr::vector<Local> locals;  // in getdents order
  std::vector<std::pair<std::string, std::vector<Xattr>>> extras;  // link targets, xattrs (rare)
  std::pmr::vector<uint32_t> order;  // 2 * local index (+1: the entries below it), in path order
  std::vector<Xattr> xattrs;         // the directory's own, read when it was opened
};

// One directory waiting to be read: its path, its entry as its parent listed
// it, and where the worker that reads it puts its node.
struct DirItem {
  std::string rel;
  Entry e;
  DirNode** slot = nullptr;
};

// What one worker allocates the nodes of the directories it reads from: blocks
// of a few MiB, given back all at once after the walk. The per-thread malloc
// arenas grew their heap a page at a time, each by an mprotect(2) (the VMA
// split, and a TLB shootdown of the other walker's CPU): 16,000 calls and about
// a sixth of a 200,000-file build's system time.
struct Pool {
  std::pmr::monotonic_buffer_resource res{size_t{1} << 20};
  std::vector<DirNode*> nodes;  // to destroy (extras and xattrs live on the heap)
  std::vector<uint32_t> scratch;
};

// A file left for a worker with no directory to read (WalkOptions::defer_min).
struct Deferred {
  uint64_t size;
  DirNode* node;
  uint32_t local;  // index into node->locals
};

// What one worker counted, on a cache line of its own: shared counters bumped
// per file by both walkers kept one line bouncing between the cores. Only the
// owner writes; the progress tick reads.
struct alignas(64) Counters {
  std::atomic<uint64_t> files_done{0}, bytes_done{0}, files_seen{0}, bytes_seen{0};
  static void add(std::atomic<uint64_t>& c, uint64_t v) {
    c.store(c.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
  }
};

// Puts the entries of one directory in the byte order of their paths, without
// comparing whole paths (a global sort spent most of its time in memcmp over
// long shared prefixes): an entry sorts by its name, and the entries below a
// subdirectory "d" (one on root_dev) sort together as "d/" among its siblings
// ("a" < "a.txt" < "a/b", since '.' < '/'). Fills node.order. Returns true when
// a name came twice (getdents of a directory renamed into while it is read):
// the first is kept, the directory reported as changed. items: scratch.
bool sort_names(DirNode& node, std::vector<uint32_t>& items, uint64_t root_dev);

// Room for the entries of one getdents batch (n bytes in buf; base: the
// length of the directory's path and its '/'): no regrowth (which in a pool
// leaves the old array behind) for directories listed in one batch.
void reserve_for(const char* buf, ssize_t n, size_t base, DirNode& node);

}  // namespace goodcop::integrity::detail
