// Reading xattrs of entries of a hostile tree: from an fd the walk opened, or
// (for entries never opened: symlinks, fifos, devices) one name below a
// directory fd.
#include "integrity/xattrs.h"

#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/xattr.h>

#include <cerrno>
#include <string>

#include "base/error.h"

namespace goodcop::integrity {
namespace {

constexpr size_t kMaxXattrBytes = 64 * 1024;  // per entry: a jail controls them
constexpr const char* kCapability = "security.capability";

// Missing xattr support or no such attribute both mean "none".
bool no_xattr(int err) { return err == ENODATA || err == ENOTSUP || err == EOPNOTSUPP; }

}  // namespace

bool lists_xattrs(int fd) {
  struct statfs sf {};
  if (::fstatfs(fd, &sf) < 0) return false;
  switch (static_cast<unsigned long>(sf.f_type)) {
    case TMPFS_MAGIC:
    case EXT4_SUPER_MAGIC:  // also ext2 and ext3
    case XFS_SUPER_MAGIC:
    case BTRFS_SUPER_MAGIC:
    case OVERLAYFS_SUPER_MAGIC:
      return true;
    default:
      return false;
  }
}

std::vector<Xattr> read_xattrs_fd(int fd, bool all, std::string_view what, bool list_first) {
  std::vector<Xattr> out;
  char buf[512];
  if (!all && list_first) {
    // Most files have no xattr at all. flistxattr answers that for a third of
    // what fgetxattr("security.capability") costs (that one goes through the
    // capability LSM hook, which copies the raw value to convert it, even to say
    // ENODATA). These filesystems list every name they store, so a name missing
    // from the list is a value missing from the inode.
    ssize_t ln = ::flistxattr(fd, buf, sizeof buf);
    if (ln == 0 || (ln < 0 && no_xattr(errno))) return out;
    if (ln > 0) {
      std::string_view names(buf, static_cast<size_t>(ln));
      bool named = false;
      for (size_t i = 0; i < names.size();) {
        size_t end = names.find('\0', i);
        if (end == std::string_view::npos) end = names.size();
        if (names.substr(i, end - i) == kCapability) named = true;
        i = end + 1;
      }
      if (!named) return out;
    }
    // Named, or more names than buf holds (ERANGE), or another error: ask for it.
  }
  if (!all) {
    ssize_t n = ::fgetxattr(fd, kCapability, buf, sizeof buf);
    if (n < 0 && no_xattr(errno)) return out;
    check(n, "fgetxattr", what);
    out.emplace_back(kCapability, std::string(buf, static_cast<size_t>(n)));
    return out;
  }
  ssize_t ln = ::flistxattr(fd, nullptr, 0);
  if (ln < 0 && no_xattr(errno)) return out;
  check(ln, "flistxattr", what);
  if (static_cast<size_t>(ln) > kMaxXattrBytes) throw SysError("flistxattr", what, E2BIG);
  std::string names(static_cast<size_t>(ln), '\0');
  ln = check(::flistxattr(fd, names.data(), names.size()), "flistxattr", what);
  names.resize(static_cast<size_t>(ln));
  size_t total = 0;
  for (size_t i = 0; i < names.size();) {
    std::string name(names.c_str() + i);
    i += name.size() + 1;
    if (name.empty()) continue;
    ssize_t vn = ::fgetxattr(fd, name.c_str(), nullptr, 0);
    if (vn < 0 && no_xattr(errno)) continue;
    check(vn, "fgetxattr", what);
    total += static_cast<size_t>(vn) + name.size();
    if (total > kMaxXattrBytes) throw SysError("fgetxattr", what, E2BIG);
    std::string val(static_cast<size_t>(vn), '\0');
    vn = ::fgetxattr(fd, name.c_str(), val.data(), val.size());
    if (vn < 0 && no_xattr(errno)) continue;
    check(vn, "fgetxattr", what);
    val.resize(static_cast<size_t>(vn));
    out.emplace_back(std::move(name), std::move(val));
  }
  return out;
}

// Xattrs of a non-regular, non-directory entry, reached without opening it:
// l*xattr on "/proc/self/fd/<dirfd>/<name>" (the l- variant does not follow a
// final symlink, and <name> is one component below an fd we opened safely).
std::vector<Xattr> read_xattrs_at(int dirfd, const char* name, std::string_view what) {
  std::vector<Xattr> out;
  std::string p = "/proc/self/fd/" + std::to_string(dirfd) + "/" + name;
  ssize_t ln = ::llistxattr(p.c_str(), nullptr, 0);
  if (ln < 0 && (no_xattr(errno) || errno == ENOENT)) return out;
  check(ln, "llistxattr", what);
  if (static_cast<size_t>(ln) > kMaxXattrBytes) throw SysError("llistxattr", what, E2BIG);
  std::string names(static_cast<size_t>(ln), '\0');
  ln = ::llistxattr(p.c_str(), names.data(), names.size());
  if (ln < 0) return out;  // changed under us: the next check sees it
  names.resize(static_cast<size_t>(ln));
  for (size_t i = 0; i < names.size();) {
    std::string n(names.c_str() + i);
    i += n.size() + 1;
    char buf[4096];
    ssize_t vn = ::lgetxattr(p.c_str(), n.c_str(), buf, sizeof buf);
    if (vn < 0) continue;
    out.emplace_back(std::move(n), std::string(buf, static_cast<size_t>(vn)));
  }
  return out;
}

}  // namespace goodcop::integrity
