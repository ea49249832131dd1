// Opening entries of a hostile tree: a path beneath the root (openat2 with
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_XDEV, or component by component
// with O_NOFOLLOW and a device check where openat2 is missing), and one name
// below a directory fd the walk opened that way.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>

#include "base/error.h"
#include "integrity/walk.h"

namespace goodcop::integrity {
namespace {

std::atomic<bool> g_openat2_disabled{false};

UniqueFd open_fallback(int root_fd, std::string_view rel, int flags) {
  struct stat root_st = fstat_fd(root_fd, "tree root");
  std::string path(rel);
  UniqueFd cur(check(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0), "dup", "tree root"));
  if (path.empty() || path == ".") {
    return UniqueFd(check(::openat(root_fd, ".", flags), "openat", "."));
  }
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    bool last = slash == std::string::npos;
    std::string comp = path.substr(start, last ? std::string::npos : slash - start);
    if (comp.empty() || comp == "." || comp == "..") throw SysError("openat", path, EINVAL);
    int f = last ? flags : (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    UniqueFd next(check(::openat(cur.get(), comp.c_str(), f), "openat", path));
    // O_NOFOLLOW stops symlinks; the device check stops a mount crossed mid-walk.
    if (fstat_fd(next.get(), path).st_dev != root_st.st_dev) throw SysError("openat", path, EXDEV);
    if (last) return next;
    cur = std::move(next);
    start = slash + 1;
  }
}

}  // namespace

void set_openat2_disabled(bool disabled) { g_openat2_disabled = disabled; }

UniqueFd open_beneath(int root_fd, std::string_view rel, int flags) {
  flags |= O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK;
  if (!g_openat2_disabled.load(std::memory_order_relaxed)) {
    std::string path = rel.empty() ? std::string(".") : std::string(rel);
    struct open_how how {};
    how.flags = static_cast<uint64_t>(flags);
    // RESOLVE_BENEATH: no absolute paths or ".." out; NO_SYMLINKS: not even inside
    // (a jail retargets links at will); NO_XDEV: a jail-made mount is not crossed.
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS;
    for (int tries = 0;; ++tries) {
      long fd = ::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof how);
      if (fd >= 0) return UniqueFd(static_cast<int>(fd));
      // EAGAIN: a concurrent rename raced the lookup (openat2(2)); retry a few times.
      if ((errno == EAGAIN && tries < 16) || errno == EINTR) continue;
      if (errno == ENOSYS) {
        g_openat2_disabled = true;
        break;
      }
      throw SysError("openat2", path, errno);
    }
  }
  return open_fallback(root_fd, rel, flags);
}

int open_child(int dirfd, const char* name, int extra_flags) {
  const int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | extra_flags;
  if (!g_openat2_disabled.load(std::memory_order_relaxed)) {
    struct open_how how {};
    how.flags = static_cast<uint64_t>(flags);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS;
    for (int tries = 0;; ++tries) {
      long fd = ::syscall(SYS_openat2, dirfd, name, &how, sizeof how);
      if (fd >= 0) return static_cast<int>(fd);
      if ((errno == EAGAIN && tries < 16) || errno == EINTR) continue;
      if (errno != ENOSYS) return -errno;
      g_openat2_disabled = true;
      break;
    }
  }
  for (;;) {
    int fd = ::openat(dirfd, name, flags);
    if (fd >= 0) return fd;
    if (errno != EINTR) return -errno;
  }
}

}  // namespace goodcop::integrity
