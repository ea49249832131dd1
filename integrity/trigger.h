#pragma once
// Change triggers: "this tree was written", on an fd the caller polls, so the
// supervisor checks a jail right after a write instead of at the next interval.
// A hint only: polling stays the ground truth (a trigger can miss a write made
// through a hard link from outside the tree, or drop events on overflow).
//
// Two sources. fanotify with a filesystem mark (FAN_MARK_FILESYSTEM,
// FAN_REPORT_DFID_NAME) when the tree is a whole filesystem of its own (the
// daemon's overlay mounts, loop images, a tmpfs): one mark sees every write to
// that superblock, from any mount namespace and through any mount of it, with no
// per-directory watch limit. inotify otherwise (a tree that is a directory of a
// larger filesystem, or a kernel or filesystem without fanotify FIDs, or no
// CAP_SYS_ADMIN): one watch per directory.

#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/fd.h"
#include "integrity/glob.h"

namespace goodcop::integrity {

// Which kernel interface reports the writes.
enum class TriggerSource {
  kAuto,      // fanotify when the tree is a whole filesystem and it works, else inotify
  kFanotify,  // fanotify only (throws when the tree is not a whole filesystem, or no fanotify)
  kInotify,   // inotify only
};

// "fanotify" or "inotify" (kAuto: "auto").
const char* trigger_source_name(TriggerSource s);

// True when root_fd is the root directory of a mounted filesystem showing all of
// it (mountinfo's root field is "/"): a fanotify filesystem mark then covers
// exactly the tree.
bool is_whole_filesystem(int root_fd);

// Change reports for a tree (inotify: same walk rules as the scan: no symlinks,
// no mounts crossed; ignored paths are not watched. fanotify: events in ignored
// paths are dropped).
class ChangeTrigger {
 public:
  // Throws SysError when the chosen source is unavailable or the root cannot be read.
  explicit ChangeTrigger(int root_fd, const std::vector<std::string>& ignore = {},
                         size_t max_watches = 65536, TriggerSource source = TriggerSource::kAuto);
  ChangeTrigger(const ChangeTrigger&) = delete;
  ChangeTrigger& operator=(const ChangeTrigger&) = delete;

  // Readable (POLLIN) when events are pending; poll or add it to an event loop.
  int fd() const { return fd_.get(); }

  // Drains pending events without blocking and watches directories created
  // since; true when anything in the tree was written (or events were lost).
  bool consume();

  // True when the watch limit was hit or the kernel queue overflowed: some writes
  // may go unreported, the caller's polling must carry the load.
  bool degraded() const { return degraded_; }

  // The number of directories watched (inotify; 1 for a fanotify filesystem mark).
  size_t watches() const { return source_ == TriggerSource::kFanotify ? 1 : paths_.size(); }

  // The source in use: kFanotify or kInotify.
  TriggerSource source() const { return source_; }

 private:
  bool init_fanotify();
  bool consume_fanotify();
  // The tree-relative path of a directory file handle from an event ("" for the
  // root); false when it cannot be resolved (gone, or outside the tree).
  bool dir_of_handle(const void* handle, std::string& rel);
  void watch_tree(const std::string& rel);
  bool add_watch(int dirfd, const std::string& rel);

  int root_fd_;
  IgnoreSet ignore_;
  size_t max_watches_;
  UniqueFd fd_;
  std::unordered_map<int, std::string> paths_;  // watch descriptor -> relative dir
  bool degraded_ = false;
  TriggerSource source_ = TriggerSource::kInotify;
  std::string root_path_;  // fanotify: the root as /proc/self/fd shows it, to cut from paths
  std::unordered_map<std::string, std::string> handle_paths_;  // fanotify: dir handle -> rel
};

}  // namespace goodcop::integrity
