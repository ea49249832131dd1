#include "integrity/trigger.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "base/error.h"
#include "integrity/walk.h"

namespace goodcop::integrity {
namespace {

constexpr uint32_t kMask = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE |
                           IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

// Every change to an entry's bytes, metadata or name. (The *_SELF events need
// FAN_REPORT_FID; a deletion or move is also a dirent event in the parent.)
constexpr uint64_t kFanMask = FAN_MODIFY | FAN_ATTRIB | FAN_CLOSE_WRITE | FAN_CREATE | FAN_DELETE |
                              FAN_MOVED_FROM | FAN_MOVED_TO | FAN_ONDIR;

std::string fd_path(int fd) {
  std::string link = "/proc/self/fd/" + std::to_string(fd);
  char buf[4097];
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  if (n < 0) return {};
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

const char* trigger_source_name(TriggerSource s) {
  switch (s) {
    case TriggerSource::kAuto: return "auto";
    case TriggerSource::kFanotify: return "fanotify";
    case TriggerSource::kInotify: return "inotify";
  }
  return "?";
}

bool is_whole_filesystem(int root_fd) {
  struct statx stx {};
  if (::statx(root_fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) != 0) return false;
  if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) ||
      !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) || !(stx.stx_mask & STATX_MNT_ID))
    return false;
  // A bind mount of a subdirectory is a mount root too: mountinfo(5)'s fourth
  // field (the root of the mount within its filesystem) must be "/".
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    uint64_t id = 0, parent = 0;
    std::string devno, root;
    if (!(ls >> id >> parent >> devno >> root)) continue;
    if (id == stx.stx_mnt_id) return root == "/";
  }
  return false;
}

ChangeTrigger::ChangeTrigger(int root_fd, const std::vector<std::string>& ignore, size_t max_watches,
                             TriggerSource source)
    : root_fd_(root_fd), ignore_(ignore), max_watches_(max_watches) {
  if (source != TriggerSource::kInotify) {
    if (!is_whole_filesystem(root_fd)) {
      if (source == TriggerSource::kFanotify)
        throw Error("trigger: the tree is not a whole filesystem (a fanotify filesystem mark would "
                    "report writes outside it)");
    } else {
      try {
        if (init_fanotify()) return;
      } catch (const SysError&) {
        if (source == TriggerSource::kFanotify) throw;
      }
    }
  }
  source_ = TriggerSource::kInotify;
  fd_ = UniqueFd(check(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC), "inotify_init1"));
  watch_tree("");
}

bool ChangeTrigger::init_fanotify() {
  // FAN_REPORT_DFID_NAME: each event names the directory (a file handle) and the
  // entry, no fd is opened for us; needs Linux >= 5.9 and a filesystem that
  // encodes file handles (tmpfs, ext4, xfs, btrfs; overlayfs since 6.6).
  UniqueFd fd(check(::fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME,
                                    O_RDONLY | O_CLOEXEC | O_LARGEFILE),
                    "fanotify_init"));
  // A filesystem mark is on the superblock: writes through any mount of it, from
  // any mount namespace (a jail writes through its own), are reported.
  check(::fanotify_mark(fd.get(), FAN_MARK_ADD | FAN_MARK_FILESYSTEM, kFanMask, root_fd_, nullptr),
        "fanotify_mark", ".");
  root_path_ = fd_path(root_fd_);
  fd_ = std::move(fd);
  source_ = TriggerSource::kFanotify;
  return true;
}

bool ChangeTrigger::dir_of_handle(const void* handle, std::string& rel) {
  auto* fh = static_cast<const struct file_handle*>(handle);
  std::string key(static_cast<const char*>(handle), sizeof(struct file_handle) + fh->handle_bytes);
  auto it = handle_paths_.find(key);
  if (it != handle_paths_.end()) {
    rel = it->second;
    return true;
  }
  // open_by_handle_at needs a non-const handle; the copy in `key` serves.
  int fd = ::open_by_handle_at(root_fd_, reinterpret_cast<struct file_handle*>(key.data()),
                               O_PATH | O_CLOEXEC);
  if (fd < 0) return false;
  UniqueFd owned(fd);
  std::string path = fd_path(fd);
  if (root_path_.empty() || path.empty()) return false;
  if (path == root_path_) {
    rel.clear();
  } else if (root_path_ == "/" && path[0] == '/') {
    rel = path.substr(1);
  } else if (path.size() > root_path_.size() && path.compare(0, root_path_.size(), root_path_) == 0 &&
             path[root_path_.size()] == '/') {
    rel = path.substr(root_path_.size() + 1);
  } else {
    return false;
  }
  if (handle_paths_.size() >= 4096) handle_paths_.clear();
  handle_paths_.emplace(std::move(key), rel);
  return true;
}

bool ChangeTrigger::consume_fanotify() {
  alignas(struct fanotify_event_metadata) char buf[16384];
  bool changed = false;
  for (;;) {
    ssize_t n = ::read(fd_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    check(n, "read", "fanotify");
    if (n == 0) break;
    auto* meta = reinterpret_cast<struct fanotify_event_metadata*>(buf);
    for (; FAN_EVENT_OK(meta, n); meta = FAN_EVENT_NEXT(meta, n)) {
      if (meta->fd >= 0) ::close(meta->fd);  // not with FID reports, but never leak one
      if (meta->vers != FANOTIFY_METADATA_VERSION || (meta->mask & FAN_Q_OVERFLOW)) {
        degraded_ = true;
        changed = true;
        continue;
      }
      // A moved or deleted directory changes the paths of the handles below it.
      if ((meta->mask & FAN_ONDIR) && (meta->mask & (FAN_MOVED_FROM | FAN_MOVED_TO | FAN_DELETE)))
        handle_paths_.clear();
      // Dropped only when the path is known and ignored; unknown paths count.
      bool ignored = false;
      const char* p = reinterpret_cast<const char*>(meta) + meta->metadata_len;
      const char* end = reinterpret_cast<const char*>(meta) + meta->event_len;
      while (p + sizeof(struct fanotify_event_info_header) <= end) {
        auto* hdr = reinterpret_cast<const struct fanotify_event_info_header*>(p);
        if (hdr->len < sizeof *hdr || p + hdr->len > end) break;
        if (hdr->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME || hdr->info_type == FAN_EVENT_INFO_TYPE_DFID) {
          auto* info = reinterpret_cast<const struct fanotify_event_info_fid*>(p);
          auto* fh = reinterpret_cast<const struct file_handle*>(info->handle);
          std::string rel;
          if (dir_of_handle(fh, rel)) {
            if (hdr->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME) {
              std::string_view name(reinterpret_cast<const char*>(fh->f_handle) + fh->handle_bytes);
              if (name != ".") rel = rel.empty() ? std::string(name) : rel + "/" + std::string(name);
            }
            ignored = ignore_.matches(rel);
          }
          break;
        }
        p += hdr->len;
      }
      if (!ignored) changed = true;
    }
  }
  return changed;
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
  if (source_ == TriggerSource::kFanotify) return consume_fanotify();
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
