#pragma once
// Change triggers: "this tree was written", on an fd the caller polls, so the
// supervisor checks a jail right after a write instead of at the next interval.
// A hint only: polling stays the ground truth (a trigger can miss a write made
// through a hard link from outside the tree, or drop events on overflow).

#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/fd.h"
#include "integrity/glob.h"

namespace goodcop::integrity {

// inotify watches on every directory of a tree (same walk rules as the scan: no
// symlinks, no mounts crossed; ignored paths are not watched).
class ChangeTrigger {
 public:
  // Throws SysError when inotify is unavailable or the root cannot be read.
  explicit ChangeTrigger(int root_fd, const std::vector<std::string>& ignore = {},
                         size_t max_watches = 65536);
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

  // The number of directories watched.
  size_t watches() const { return paths_.size(); }

 private:
  void watch_tree(const std::string& rel);
  bool add_watch(int dirfd, const std::string& rel);

  int root_fd_;
  IgnoreSet ignore_;
  size_t max_watches_;
  UniqueFd fd_;
  std::unordered_map<int, std::string> paths_;  // watch descriptor -> relative dir
  bool degraded_ = false;
};

}  // namespace goodcop::integrity
