#include "integrity/trigger.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "base/error.h"
#include "integrity/walk.h"

namespace goodcop::integrity {
namespace {

constexpr uint32_t kMask = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE |
                           IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

}  // namespace

ChangeTrigger::ChangeTrigger(int root_fd, const std::vector<std::string>& ignore, size_t max_watches)
    : root_fd_(root_fd), ignore_(ignore), max_watches_(max_watches) {
  fd_ = UniqueFd(check(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC), "inotify_init1"));
  watch_tree("");
}

bool ChangeTrigger::add_watch(int dirfd, const std::string& rel) {
  if (paths_.size() >= max_watches_) {
    degraded_ = true;
    return false;
  }
  // Through our own fd's /proc link: the watch lands on the directory we opened
  // beneath the root, whatever a jail renames or swaps along the path meanwhile.
  std::string p = "/proc/self/fd/" + std::to_string(dirfd);
  int wd = ::inotify_add_watch(fd_.get(), p.c_str(), kMask);
  if (wd < 0) {
    if (errno == ENOSPC) {  // fs.inotify.max_user_watches
      degraded_ = true;
      return false;
    }
    throw SysError("inotify_add_watch", rel.empty() ? "." : rel, errno);
  }
  paths_[wd] = rel;
  return true;
}

void ChangeTrigger::watch_tree(const std::string& top) {
  std::vector<std::string> queue{top};
  std::unique_ptr<char[]> buf(new char[65536]);
  for (size_t qi = 0; qi < queue.size(); ++qi) {
    std::string dir = std::move(queue[qi]);
    UniqueFd dfd;
    try {
      dfd = open_beneath(root_fd_, dir, O_RDONLY | O_DIRECTORY);
    } catch (const SysError& e) {
      if (qi == 0 && dir.empty()) throw;
      continue;  // gone or swapped: its parent's watch reports that
    }
    if (!add_watch(dfd.get(), dir)) return;
    for (;;) {
      ssize_t n = ::getdents64(dfd.get(), buf.get(), 65536);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      for (ssize_t off = 0; off < n;) {
        auto* d = reinterpret_cast<struct dirent64*>(buf.get() + off);
        off += d->d_reclen;
        if (d->d_type != DT_DIR) continue;  // DT_UNKNOWN dirs: open_beneath checks below
        std::string_view name = d->d_name;
        if (name == "." || name == "..") continue;
        std::string rel = dir.empty() ? std::string(name) : dir + "/" + std::string(name);
        if (!ignore_.matches(rel)) queue.push_back(std::move(rel));
      }
    }
  }
}

bool ChangeTrigger::consume() {
  alignas(struct inotify_event) char buf[16384];
  bool changed = false;
  for (;;) {
    ssize_t n = ::read(fd_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    check(n, "read", "inotify");
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      auto* ev = reinterpret_cast<struct inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
      if (ev->mask & IN_Q_OVERFLOW) {
        degraded_ = true;
        changed = true;
        continue;
      }
      if (ev->mask & IN_IGNORED) {
        paths_.erase(ev->wd);
        continue;
      }
      auto it = paths_.find(ev->wd);
      if (it == paths_.end()) continue;
      std::string rel;
      if (ev->len > 0) {
        rel = it->second.empty() ? std::string(ev->name) : it->second + "/" + ev->name;
        if (ignore_.matches(rel)) continue;
      }
      changed = true;
      if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO))) watch_tree(rel);
    }
  }
  return changed;
}

}  // namespace goodcop::integrity
