#include "integrity/walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>

namespace goodcop::integrity {
namespace {

std::atomic<bool> g_openat2_disabled{false};

constexpr size_t kMaxXattrBytes = 64 * 1024;  // per entry: a jail controls them
constexpr const char* kCapability = "security.capability";

EntryType type_of(mode_t m) {
  switch (m & S_IFMT) {
    case S_IFDIR: return EntryType::kDir;
    case S_IFLNK: return EntryType::kSymlink;
    case S_IFIFO: return EntryType::kFifo;
    case S_IFCHR: return EntryType::kChar;
    case S_IFBLK: return EntryType::kBlock;
    case S_IFSOCK: return EntryType::kSocket;
    default: return EntryType::kFile;
  }
}

int64_t ns_of(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Missing xattr support or no such attribute both mean "none".
bool no_xattr(int err) { return err == ENODATA || err == ENOTSUP || err == EOPNOTSUPP; }

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

std::vector<Xattr> read_xattrs_fd(int fd, bool all, std::string_view what) {
  std::vector<Xattr> out;
  char buf[512];
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

namespace {

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

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

}  // namespace

WalkResult walk_tree(int root_fd, const WalkOptions& opts) {
  WalkResult res;
  Manifest& m = res.manifest;
  struct stat root_st = fstat_fd(root_fd, "tree root");
  if (!S_ISDIR(root_st.st_mode)) throw SysError("open", "tree root", ENOTDIR);

  auto make_entry = [](const struct stat& st) {
    Entry e;
    e.type = type_of(st.st_mode);
    e.mode = st.st_mode & 07777;
    e.uid = st.st_uid;
    e.gid = st.st_gid;
    e.nlink = static_cast<uint32_t>(st.st_nlink);
    e.size = e.type == EntryType::kFile ? static_cast<uint64_t>(st.st_size) : 0;
    e.mtime_ns = ns_of(st.st_mtim);
    e.ctime_ns = ns_of(st.st_ctim);
    e.ino = st.st_ino;
    e.rdev = (e.type == EntryType::kChar || e.type == EntryType::kBlock) ? st.st_rdev : 0;
    return e;
  };
  auto reuse_xattrs = [&](std::string_view rel, const Entry& e) -> const std::vector<Xattr>* {
    if (opts.reference == nullptr) return nullptr;
    const Entry* r = opts.reference->find(rel);
    if (r == nullptr || r->ino != e.ino || r->ctime_ns != e.ctime_ns || r->type != e.type) return nullptr;
    return &opts.reference->xattrs(*r);
  };

  m.add("", make_entry(root_st));
  // Breadth first over directories, each opened by its full relative path beneath
  // the root: open fds stay bounded whatever the depth.
  std::vector<std::pair<std::string, size_t>> queue{{std::string(), 0}};
  std::unique_ptr<char[]> buf(new char[65536]);
  for (size_t qi = 0; qi < queue.size(); ++qi) {
    std::string dir = std::move(queue[qi].first);
    size_t dir_index = queue[qi].second;
    UniqueFd dfd;
    try {
      dfd = open_beneath(root_fd, dir, O_RDONLY | O_DIRECTORY);
    } catch (const SysError& e) {
      // Vanished, swapped for a symlink or a mount since we saw it: not descended.
      if (e.code() == ENOENT || e.code() == ENOTDIR || e.code() == ELOOP || e.code() == EXDEV ||
          e.code() == EAGAIN) {
        res.raced.push_back(dir);
        continue;
      }
      throw;
    }
    struct stat dst = fstat_fd(dfd.get(), dir);
    Entry& de = m.entries()[dir_index];
    if (dst.st_ino != de.ino || dst.st_dev != root_st.st_dev) {
      res.raced.push_back(dir);
      continue;
    }
    {
      const std::vector<Xattr>* same = reuse_xattrs(dir, de);
      std::vector<Xattr> xs = same ? *same : read_xattrs_fd(dfd.get(), opts.all_xattrs, dir);
      m.set_xattrs(m.entries()[dir_index], std::move(xs));
    }
    for (;;) {
      ssize_t n = ::getdents64(dfd.get(), buf.get(), 65536);
      if (n < 0 && errno == EINTR) continue;
      check(n, "getdents64", dir);
      if (n == 0) break;
      for (ssize_t off = 0; off < n;) {
        auto* d = reinterpret_cast<struct dirent64*>(buf.get() + off);
        off += d->d_reclen;
        const char* name = d->d_name;
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
        std::string rel = dir.empty() ? std::string(name) : dir + "/" + name;
        if (rel.size() > opts.max_path)
          throw LimitError("scan: path longer than " + std::to_string(opts.max_path) + " bytes below '" +
                           escape_name(dir) + "'");
        if (opts.ignore.matches(rel)) continue;
        struct stat st {};
        if (::fstatat(dfd.get(), name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
          if (errno == ENOENT) continue;  // vanished between getdents and stat
          throw SysError("fstatat", rel, errno);
        }
        if (m.size() >= opts.max_entries)
          throw LimitError("scan: more than " + std::to_string(opts.max_entries) + " entries");
        Entry e = make_entry(st);
        std::string target;
        std::vector<Xattr> xs;
        if (e.type == EntryType::kSymlink) {
          char lbuf[4097];
          ssize_t ln = ::readlinkat(dfd.get(), name, lbuf, sizeof lbuf);
          if (ln < 0) {
            if (errno == ENOENT || errno == EINVAL) {
              res.raced.push_back(rel);
              continue;
            }
            throw SysError("readlinkat", rel, errno);
          }
          if (static_cast<size_t>(ln) >= sizeof lbuf)
            throw LimitError("scan: symlink target longer than 4096 bytes at '" + escape_name(rel) + "'");
          target.assign(lbuf, static_cast<size_t>(ln));
        }
        if (opts.all_xattrs && e.type != EntryType::kDir && e.type != EntryType::kFile) {
          const std::vector<Xattr>* same = reuse_xattrs(rel, e);
          xs = same ? *same : read_xattrs_at(dfd.get(), name, rel);
        }
        m.add(rel, e, target, std::move(xs));
        // A directory on another device is a mount point: recorded, never entered.
        if (e.type == EntryType::kDir && st.st_dev == root_st.st_dev)
          queue.emplace_back(std::move(rel), m.size() - 1);
      }
    }
  }
  m.sort();
  return res;
}

}  // namespace goodcop::integrity
