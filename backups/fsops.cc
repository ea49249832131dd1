#include "backups/fsops.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "base/scope_exit.h"

namespace goodcop::backups {
namespace {

void remove_below(int dfd, const std::string& what, dev_t dev) {
  std::vector<std::string> names;
  {
    DIR* dp = ::fdopendir(check(::fcntl(dfd, F_DUPFD_CLOEXEC, 0), "dup", what));
    if (dp == nullptr) throw SysError("fdopendir", what, errno);
    ScopeExit close_dir([&] { ::closedir(dp); });
    ::rewinddir(dp);
    while (dirent* de = ::readdir(dp)) {
      std::string n = de->d_name;
      if (n != "." && n != "..") names.push_back(std::move(n));
    }
  }
  for (const auto& n : names) {
    std::string path = what + "/" + n;
    struct stat st {};
    if (::fstatat(dfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT) continue;
      throw SysError("fstatat", path, errno);
    }
    if (S_ISDIR(st.st_mode)) {
      if (st.st_dev != dev) throw SysError("remove", path, EBUSY);  // a mount: never empty it
      UniqueFd sub = openat_fd(dfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      // A 0500 directory still lets root unlink in it; restore write bits for others.
      if ((st.st_mode & 0700) != 0700) ::fchmod(sub.get(), st.st_mode | 0700);
      remove_below(sub.get(), path, dev);
      if (::unlinkat(dfd, n.c_str(), AT_REMOVEDIR) < 0 && errno != ENOENT)
        throw SysError("rmdir", path, errno);
    } else if (::unlinkat(dfd, n.c_str(), 0) < 0 && errno != ENOENT) {
      throw SysError("unlink", path, errno);
    }
  }
}

}  // namespace

std::string parent_dir(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto slash = p.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : p.substr(0, slash);
}

std::string base_name(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

void remove_tree_contents(int dirfd, const std::string& what) {
  remove_below(dirfd, what, fstat_fd(dirfd, what).st_dev);
}

void remove_tree(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) < 0) {
    if (errno == ENOENT) return;
    throw SysError("lstat", path, errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) throw SysError("unlink", path, errno);
    return;
  }
  {
    UniqueFd d = open_fd(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    remove_below(d.get(), path, st.st_dev);
  }
  if (::rmdir(path.c_str()) < 0 && errno != ENOENT) throw SysError("rmdir", path, errno);
}

void fsync_dir(const std::string& dir) {
  UniqueFd d = open_fd(dir, O_RDONLY | O_DIRECTORY);
  check(::fsync(d.get()), "fsync", dir);
}

UniqueFd open_beneath(int rootfd, const std::string& rel, int flags, mode_t mode) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) != 0 ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  long fd = ::syscall(SYS_openat2, rootfd, rel.c_str(), &how, sizeof how);
  if (fd < 0) throw SysError("openat2", rel, errno);
  return UniqueFd(static_cast<int>(fd));
}

void make_parents_at(int dirfd, const std::string& rel) {
  size_t i = rel.find('/');
  while (i != std::string::npos) {
    std::string p = rel.substr(0, i);
    // mkdirat follows nothing in the last component; the earlier ones were made or
    // checked by the previous iterations, and open_beneath below refuses symlinks.
    if (::mkdirat(dirfd, p.c_str(), 0755) < 0 && errno != EEXIST) throw SysError("mkdirat", p, errno);
    open_beneath(dirfd, p, O_RDONLY | O_DIRECTORY);
    i = rel.find('/', i + 1);
  }
}

}  // namespace goodcop::backups
