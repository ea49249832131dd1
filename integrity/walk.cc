#include "integrity/walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <numeric>

#include "integrity/hash.h"
#include "integrity/mapped.h"
#include "integrity/xattrs.h"

namespace goodcop::integrity {
namespace {

std::atomic<bool> g_openat2_disabled{false};

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

namespace {

Entry make_entry(const struct stat& st) {
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
}

bool raced_errno(int err) {
  return err == ENOENT || err == ENOTDIR || err == ELOOP || err == EXDEV || err == EAGAIN;
}

// One directory waiting to be read: its path and its entry in the manifest.
struct DirItem {
  std::string rel;
  uint32_t index;
};

// An entry read from one directory, before it joins the shared manifest.
struct Local {
  uint32_t path_off, path_len;  // into the directory's own arena
  uint32_t name_off;            // where the last component starts
  uint32_t extra = UINT32_MAX;  // into the directory's extras
  bool hash = false;
  bool unstated = false;  // hash_all: no fstatat yet, e is only the type (the fd's fstat fills it)
  uint64_t dev = 0;  // st_dev: a subdirectory on another device is a mount point
  Entry e;
};

// Opens `name` (one component from getdents: no '/', never "." or "..") below
// dirfd for reading. openat2 refuses a symlink and a mount point (also a bind
// mount from the same filesystem); the fallback refuses the symlink and leaves
// the device check to the caller's fstat. Returns the fd or -errno.
int open_child(int dirfd, const char* name) {
  constexpr int kFlags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK;
  if (!g_openat2_disabled.load(std::memory_order_relaxed)) {
    struct open_how how {};
    how.flags = kFlags;
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
    int fd = ::openat(dirfd, name, kFlags);
    if (fd >= 0) return fd;
    if (errno != EINTR) return -errno;
  }
}

// The parallel walk: a stack of directories shared by the workers, and the
// manifest they append to, both under one mutex taken twice per directory.
class Walker {
 public:
  Walker(int root_fd, const WalkOptions& opts, WalkResult& res)
      : root_fd_(root_fd), opts_(opts), res_(res), m_(res.manifest) {}

  void run() {
    struct stat root_st = fstat_fd(root_fd_, "tree root");
    if (!S_ISDIR(root_st.st_mode)) throw SysError("open", "tree root", ENOTDIR);
    root_dev_ = root_st.st_dev;
    // Every fd the walk reads xattrs from is on the root's filesystem (st_dev checked).
    list_first_ = lists_xattrs(root_fd_);
    // The reference's size is the best guess of this tree's: no regrowth (a copy
    // of everything so far, and fresh pages) in the common case.
    if (opts_.reference != nullptr)
      m_.reserve(opts_.reference->size() + opts_.reference->size() / 8 + 16,
                 opts_.reference->path_bytes() + opts_.reference->path_bytes() / 8 + 256);
    m_.add("", make_entry(root_st));
    count_ = 1;
    stack_.push_back(DirItem{std::string(), 0});
    unsigned threads = std::max(1u, opts_.threads);
    if (opts_.want_hash || opts_.hash_all) hashers_ = std::vector<FileHasher>(threads);
    parallel_for(
        threads, threads, [this](size_t, unsigned w) { worker(w); },
        [this] {
          if (opts_.progress)
            opts_.progress(files_done_.load(), bytes_done_.load(), files_seen_.load(),
                           bytes_seen_.load());
        });
    res_.files_hashed = files_done_;
    res_.bytes_hashed = bytes_done_;
    m_.permute(tree_order());
    m_.sort();  // verifies the order (one pass) and refuses duplicates
    std::sort(res_.issues.begin(), res_.issues.end(),
              [](const FileIssue& a, const FileIssue& b) { return a.path < b.path; });
  }

 private:
  void worker(unsigned w) {
    std::unique_ptr<char[]> buf(new char[kDentsBuf]);
    try {
      for (;;) {
        DirItem item;
        {
          std::unique_lock lk(mu_);
          cv_.wait(lk, [&] { return failed_ || !stack_.empty() || busy_ == 0; });
          if (failed_ || stack_.empty()) return;
          item = std::move(stack_.back());
          stack_.pop_back();
          ++busy_;
        }
        read_dir(item, buf.get(), w);
        std::lock_guard lk(mu_);
        if (--busy_ == 0 && stack_.empty()) cv_.notify_all();
      }
    } catch (...) {
      std::lock_guard lk(mu_);
      failed_ = true;
      cv_.notify_all();
      throw;
    }
  }

  const std::vector<Xattr>* reuse_xattrs(std::string_view rel, const Entry& e) const {
    if (opts_.reference == nullptr) return nullptr;
    const Entry* r = opts_.reference->find(rel);
    if (r == nullptr || r->ino != e.ino || r->ctime_ns != e.ctime_ns || r->type != e.type)
      return nullptr;
    return &opts_.reference->xattrs(*r);
  }

  void read_dir(const DirItem& item, char* buf, unsigned w) {
    const std::string& dir = item.rel;
    UniqueFd dfd;
    try {
      dfd = open_beneath(root_fd_, dir, O_RDONLY | O_DIRECTORY);
    } catch (const SysError& e) {
      // Vanished, swapped for a symlink or a mount since we saw it: not descended.
      if (!raced_errno(e.code())) throw;
      std::lock_guard lk(mu_);
      res_.raced.push_back(dir);
      return;
    }
    struct stat dst = fstat_fd(dfd.get(), dir);
    Entry dentry;
    {
      std::lock_guard lk(mu_);
      dentry = m_.entries()[item.index];
    }
    if (dst.st_ino != dentry.ino || dst.st_dev != root_dev_) {
      std::lock_guard lk(mu_);
      res_.raced.push_back(dir);
      return;
    }
    const std::vector<Xattr>* same = reuse_xattrs(dir, dentry);
    std::vector<Xattr> dir_xattrs = same ? *same : read_xattrs_fd(dfd.get(), opts_.all_xattrs, dir, list_first_);

    std::string arena;
    std::vector<Local> locals;
    std::vector<std::pair<std::string, std::vector<Xattr>>> extras;
    std::string rel = dir;
    if (!rel.empty()) rel += '/';
    const size_t base = rel.size();
    for (;;) {
      ssize_t n = ::getdents64(dfd.get(), buf, kDentsBuf);
      if (n < 0 && errno == EINTR) continue;
      check(n, "getdents64", dir);
      if (n == 0) break;
      for (ssize_t off = 0; off < n;) {
        auto* d = reinterpret_cast<struct dirent64*>(buf + off);
        off += d->d_reclen;
        const char* name = d->d_name;
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
        rel.resize(base);
        rel += name;
        if (rel.size() > opts_.max_path)
          throw LimitError("scan: path longer than " + std::to_string(opts_.max_path) +
                           " bytes below '" + escape_name(dir) + "'");
        if (opts_.ignore.matches(rel)) continue;
        Local l;
        if (opts_.hash_all && d->d_type == DT_REG) {
          // Opened and fstat'ed in hash_files; the type getdents gives is only a
          // hint there, as fstatat's was: the fd's fstat decides.
          l.unstated = true;
          l.e.type = EntryType::kFile;
          l.dev = root_dev_;
        } else {
          struct stat st {};
          if (::fstatat(dfd.get(), name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT) continue;  // vanished between getdents and stat
            throw SysError("fstatat", rel, errno);
          }
          l.e = make_entry(st);
          l.dev = st.st_dev;
        }
        if (count_.fetch_add(1, std::memory_order_relaxed) >= opts_.max_entries)
          throw LimitError("scan: more than " + std::to_string(opts_.max_entries) + " entries");
        l.path_off = static_cast<uint32_t>(arena.size());
        l.path_len = static_cast<uint32_t>(rel.size());
        l.name_off = static_cast<uint32_t>(base);
        arena += rel;
        arena += '\0';  // the name, NUL-terminated, for openat in hash_files
        std::string target;
        std::vector<Xattr> xs;
        if (l.e.type == EntryType::kSymlink) {
          char lbuf[4097];
          ssize_t ln = ::readlinkat(dfd.get(), name, lbuf, sizeof lbuf);
          if (ln < 0) {
            if (errno == ENOENT || errno == EINVAL) {
              std::lock_guard lk(mu_);
              res_.raced.push_back(rel);
              continue;
            }
            throw SysError("readlinkat", rel, errno);
          }
          if (static_cast<size_t>(ln) >= sizeof lbuf)
            throw LimitError("scan: symlink target longer than 4096 bytes at '" + escape_name(rel) + "'");
          target.assign(lbuf, static_cast<size_t>(ln));
        }
        if (opts_.all_xattrs && l.e.type != EntryType::kDir && l.e.type != EntryType::kFile) {
          const std::vector<Xattr>* same_x = reuse_xattrs(rel, l.e);
          xs = same_x ? *same_x : read_xattrs_at(dfd.get(), name, rel);
        }
        if (l.e.type == EntryType::kFile) {
          files_seen_.fetch_add(1, std::memory_order_relaxed);
          bytes_seen_.fetch_add(l.e.size, std::memory_order_relaxed);
          l.hash = opts_.hash_all || (opts_.want_hash && opts_.want_hash(rel, l.e));
        }
        if (!target.empty() || !xs.empty()) {
          l.extra = static_cast<uint32_t>(extras.size());
          extras.emplace_back(std::move(target), std::move(xs));
        }
        locals.push_back(l);
      }
    }

    // Join the shared manifest; hand the subdirectories to the other workers
    // before hashing this directory's files.
    std::vector<std::pair<uint32_t, uint32_t>> to_hash;  // manifest index, local index
    {
      std::lock_guard lk(mu_);
      kids_.emplace_back(item.index, std::vector<uint32_t>());
      std::vector<uint32_t>& kids = kids_.back().second;
      kids.reserve(locals.size());
      m_.set_xattrs(m_.entries()[item.index], std::move(dir_xattrs));
      bool pushed = false;
      for (uint32_t i = 0; i < locals.size(); ++i) {
        const Local& l = locals[i];
        std::string_view path(arena.data() + l.path_off, l.path_len);
        if (l.extra == UINT32_MAX) {
          m_.add(path, l.e);
        } else {
          m_.add(path, l.e, extras[l.extra].first, std::move(extras[l.extra].second));
        }
        auto idx = static_cast<uint32_t>(m_.size() - 1);
        kids.push_back(idx);
        // A directory on another device is a mount point: recorded, never entered.
        if (l.e.type == EntryType::kDir && l.dev == root_dev_) {
          stack_.push_back(DirItem{std::string(path), idx});
          pushed = true;
        }
        if (l.hash) to_hash.emplace_back(idx, i);
      }
      if (pushed) cv_.notify_all();
    }
    if (to_hash.empty()) return;
    hash_files(dfd.get(), arena, locals, to_hash, w);
  }

  // Opens, checks and hashes the chosen files of one directory, relative to its
  // fd: one openat per file instead of a path resolution from the root.
  void hash_files(int dfd, const std::string& arena, const std::vector<Local>& locals,
                  const std::vector<std::pair<uint32_t, uint32_t>>& to_hash, unsigned w) {
    struct Done {
      uint32_t idx;
      Entry e;
      std::vector<Xattr> xattrs;
    };
    std::vector<Done> done;
    std::vector<FileIssue> issues;
    done.reserve(to_hash.size());
    for (auto [idx, li] : to_hash) {
      const Local& l = locals[li];
      std::string_view path(arena.data() + l.path_off, l.path_len);
      const char* name = arena.data() + l.path_off + l.name_off;
      auto issue = [&](FileIssue::What what, std::exception_ptr err = {}, std::string note = {}) {
        issues.push_back(FileIssue{std::string(path), what, std::move(err), std::move(note)});
      };
      int fd = open_child(dfd, name);
      if (fd < 0) {
        if (raced_errno(-fd)) {
          issue(FileIssue::kChanged);
        } else {
          SysError err("openat", path, -fd);
          issue(FileIssue::kError, std::make_exception_ptr(err), err.what());
        }
        continue;
      }
      UniqueFd owned(fd);
      struct stat st {};
      if (::fstat(fd, &st) < 0) {
        SysError err("fstat", path, errno);
        issue(FileIssue::kError, std::make_exception_ptr(err), err.what());
        continue;
      }
      // The file the walk saw, on the tree's filesystem; its metadata now, before
      // the first read: a write after this moves ctime, so a later quick check
      // rehashes the file rather than trusting a digest of older bytes.
      if (!S_ISREG(st.st_mode) || (!l.unstated && st.st_ino != l.e.ino) || st.st_dev != root_dev_) {
        issue(FileIssue::kChanged);
        continue;
      }
      if (l.unstated) bytes_seen_.fetch_add(static_cast<uint64_t>(st.st_size), std::memory_order_relaxed);
      Done d{idx, make_entry(st), {}};
      try {
        d.xattrs = read_xattrs_fd(fd, opts_.all_xattrs, path, list_first_);
        bool same = hashers_[w].hash(fd, d.e.size, d.e.sha256, path, worth_mapping(st));
        files_done_.fetch_add(1, std::memory_order_relaxed);
        bytes_done_.fetch_add(d.e.size, std::memory_order_relaxed);
        if (!same) {
          issue(FileIssue::kResized);
          continue;
        }
      } catch (const SysError& e) {
        issue(FileIssue::kError, std::current_exception(), e.what());
        continue;
      }
      d.e.hashed = true;
      done.push_back(std::move(d));
    }
    std::lock_guard lk(mu_);
    for (Done& d : done) {
      Entry& t = m_.entries()[d.idx];
      d.e.path_off = t.path_off;
      d.e.path_len = t.path_len;
      d.e.extra = t.extra;
      t = d.e;
      if (!d.xattrs.empty() || t.extra != Entry::kNoExtra) m_.set_xattrs(t, std::move(d.xattrs));
    }
    for (FileIssue& i : issues) res_.issues.push_back(std::move(i));
  }

  // The byte order of all paths without comparing whole paths (a global sort
  // spent most of its time in memcmp over long shared prefixes): within one
  // directory, an entry sorts by its name and the entries below a subdirectory
  // "d" sort together as "d/" among the siblings ("a" < "a.txt" < "a/b", since
  // '.' < '/'), so each directory sorts only its own names.
  std::vector<uint32_t> tree_order() const {
    std::vector<int64_t> kids_of(m_.size(), -1);
    for (size_t k = 0; k < kids_.size(); ++k) kids_of[kids_[k].first] = static_cast<int64_t>(k);
    std::vector<uint32_t> order;
    order.reserve(m_.size());
    order.push_back(0);
    emit_below(0, kids_of, order);
    // A raced walk can leave entries no parent listed (never, but never lose one).
    if (order.size() != m_.size()) {
      order.resize(m_.size());
      std::iota(order.begin(), order.end(), 0u);
    }
    return order;
  }

  void emit_below(uint32_t dir, const std::vector<int64_t>& kids_of, std::vector<uint32_t>& order) const {
    if (kids_of[dir] < 0) return;
    const std::vector<uint32_t>& kids = kids_[static_cast<size_t>(kids_of[dir])].second;
    size_t cut = m_.path(m_.entries()[dir]).size() + (dir == 0 ? 0 : 1);
    struct Item {
      std::string_view name;
      uint32_t index;
      bool subtree;  // sorts as name + "/"
    };
    std::vector<Item> items;
    items.reserve(kids.size() + 8);
    for (uint32_t c : kids) {
      std::string_view name = m_.path(m_.entries()[c]).substr(cut);
      items.push_back({name, c, false});
      if (kids_of[c] >= 0) items.push_back({name, c, true});
    }
    std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
      size_t n = std::min(a.name.size(), b.name.size());
      int r = a.name.substr(0, n).compare(b.name.substr(0, n));
      if (r != 0) return r < 0;
      // One is a prefix of the other: the next byte decides, '/' for a subtree, none for an entry.
      int ca = a.name.size() > n ? static_cast<unsigned char>(a.name[n]) : (a.subtree ? '/' : -1);
      int cb = b.name.size() > n ? static_cast<unsigned char>(b.name[n]) : (b.subtree ? '/' : -1);
      if (ca != cb) return ca < cb;
      return !a.subtree && b.subtree;
    });
    for (const Item& it : items) {
      if (it.subtree) {
        emit_below(it.index, kids_of, order);
      } else {
        order.push_back(it.index);
      }
    }
  }

  static constexpr size_t kDentsBuf = 65536;

  int root_fd_;
  const WalkOptions& opts_;
  WalkResult& res_;
  Manifest& m_;
  uint64_t root_dev_ = 0;
  bool list_first_ = false;
  std::vector<FileHasher> hashers_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<DirItem> stack_;
  std::vector<std::pair<uint32_t, std::vector<uint32_t>>> kids_;  // directory -> its entries
  unsigned busy_ = 0;
  bool failed_ = false;
  std::atomic<size_t> count_{0};
  std::atomic<uint64_t> files_done_{0}, bytes_done_{0}, files_seen_{0}, bytes_seen_{0};
};

}  // namespace

WalkResult walk_tree(int root_fd, const WalkOptions& opts) {
  WalkResult res;
  Walker(root_fd, opts, res).run();
  return res;
}

}  // namespace goodcop::integrity
