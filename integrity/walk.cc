#include "integrity/walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <thread>

#include "base/scope_exit.h"
#include "integrity/hash.h"
#include "integrity/mapped.h"
#include "integrity/text_form.h"
#include "integrity/walk_node.h"
#include "integrity/xattrs.h"

namespace goodcop::integrity {
namespace {

using namespace detail;

// The parallel walk: a stack of directories shared by the workers under one
// mutex (taken twice per directory); each directory's entries are kept in its
// own node and sorted by the worker that read it.
class Walker {
 public:
  Walker(int root_fd, const WalkOptions& opts, WalkResult& res)
      : root_fd_(root_fd), opts_(opts), res_(res) {}

  void run() {
    struct stat root_st = fstat_fd(root_fd_, "tree root");
    if (!S_ISDIR(root_st.st_mode)) throw SysError("open", "tree root", ENOTDIR);
    root_dev_ = root_st.st_dev;
    // Every fd the walk reads xattrs from is on the root's filesystem (st_dev checked).
    list_first_ = lists_xattrs(root_fd_);
    Entry root = make_entry(root_st);
    count_ = 1;
    stack_.push_back(DirItem{std::string(), root, &root_node_});
    unsigned threads = std::max(1u, opts_.threads);
    pools_ = std::vector<Pool>(threads);
    counters_.reset(new Counters[threads]);
    threads_ = threads;
    ScopeExit release([this] { free_nodes(); });
    if (opts_.want_hash || opts_.hash_all) hashers_ = std::vector<FileHasher>(threads);
    parallel_for(
        threads, threads, [this](size_t, unsigned w) { worker(w); },
        [this] {
          if (!opts_.progress) return;
          uint64_t c[4] = {};
          for (unsigned t = 0; t < threads_; ++t) {
            c[0] += counters_[t].files_done.load(std::memory_order_relaxed);
            c[1] += counters_[t].bytes_done.load(std::memory_order_relaxed);
            c[2] += counters_[t].files_seen.load(std::memory_order_relaxed);
            c[3] += counters_[t].bytes_seen.load(std::memory_order_relaxed);
          }
          opts_.progress(c[0], c[1], c[2], c[3]);
        });
    for (unsigned t = 0; t < threads; ++t) {
      res_.files_hashed += counters_[t].files_done.load();
      res_.bytes_hashed += counters_[t].bytes_done.load();
    }
    if (opts_.text_sink && res_.raced.empty() && res_.issues.empty()) {
      assemble_writing(root);
    } else {
      assemble(root, threads);
    }
    std::sort(res_.issues.begin(), res_.issues.end(),
              [](const FileIssue& a, const FileIssue& b) { return a.path < b.path; });
  }

 private:
  void worker(unsigned w) {
    std::unique_ptr<char[]> buf(new char[kDentsBuf]);
    try {
      for (;;) {
        DirItem item;
        Deferred file{};
        {
          std::unique_lock lk(mu_);
          cv_.wait(lk,
                   [&] { return failed_ || !stack_.empty() || !deferred_.empty() || busy_ == 0; });
          if (failed_) return;
          if (!stack_.empty()) {
            item = std::move(stack_.back());
            stack_.pop_back();
            ++busy_;
          } else if (!deferred_.empty()) {
            // No directory to read: the largest file left (it pushes no new work).
            std::pop_heap(deferred_.begin(), deferred_.end(), by_size);
            file = deferred_.back();
            deferred_.pop_back();
          } else {
            return;  // busy_ == 0: every directory is read
          }
        }
        if (file.node != nullptr) {
          hash_deferred(file, w);
          continue;
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

  static bool by_size(const Deferred& a, const Deferred& b) { return a.size < b.size; }

  // O_NOATIME while the kernel allows it (the owner, or CAP_FOWNER: open(2)):
  // reading the tree does not write its inodes' atime (touch_atime was ~1.5 % of
  // a build on a strictatime tmpfs), and evidence keeps the jail's own atimes.
  int noatime() const { return noatime_.load(std::memory_order_relaxed) ? O_NOATIME : 0; }

  // open_child with O_NOATIME, retried without it on EPERM (not our file, no
  // CAP_FOWNER); after the first refusal the walk stops asking for it.
  int open_file(int dfd, const char* name) {
    int extra = noatime();
    int fd = open_child(dfd, name, extra);
    if (fd == -EPERM && extra != 0) {
      noatime_.store(false, std::memory_order_relaxed);
      fd = open_child(dfd, name, 0);
    }
    return fd;
  }

  // open_beneath with O_NOATIME, the same way.
  UniqueFd open_rel(std::string_view rel, int flags) {
    int extra = noatime();
    try {
      return open_beneath(root_fd_, rel, flags | extra);
    } catch (const SysError& e) {
      if (e.code() != EPERM || extra == 0) throw;
    }
    noatime_.store(false, std::memory_order_relaxed);
    return open_beneath(root_fd_, rel, flags);
  }

  const std::vector<Xattr>* reuse_xattrs(std::string_view rel, const Entry& e) const {
    if (opts_.reference == nullptr) return nullptr;
    const Entry* r = opts_.reference->find(rel);
    if (r == nullptr || r->ino != e.ino || r->ctime_ns != e.ctime_ns || r->type != e.type)
      return nullptr;
    return &opts_.reference->xattrs(*r);
  }

  void raced(std::string path) {
    std::lock_guard lk(mu_);
    res_.raced.push_back(std::move(path));
  }

  void read_dir(const DirItem& item, char* buf, unsigned w) {
    const std::string& dir = item.rel;
    UniqueFd dfd;
    try {
      dfd = open_rel(dir, O_RDONLY | O_DIRECTORY);
    } catch (const SysError& e) {
      // Vanished, swapped for a symlink or a mount since we saw it: not descended.
      if (!raced_errno(e.code())) throw;
      raced(dir);
      return;
    }
    struct stat dst = fstat_fd(dfd.get(), dir);
    if (dst.st_ino != item.e.ino || dst.st_dev != root_dev_) {
      raced(dir);
      return;
    }
    Pool& pool = pools_[w];
    DirNode& node = *new (pool.res.allocate(sizeof(DirNode), alignof(DirNode))) DirNode(&pool.res);
    pool.nodes.push_back(&node);
    *item.slot = &node;  // the parent's Local: no other thread touches it now
    const std::vector<Xattr>* same = reuse_xattrs(dir, item.e);
    node.xattrs = same ? *same : read_xattrs_fd(dfd.get(), opts_.all_xattrs, dir, list_first_);

    std::pmr::string& arena = node.arena;
    std::pmr::vector<Local>& locals = node.locals;
    auto& extras = node.extras;
    std::string rel = dir;
    if (!rel.empty()) rel += '/';
    const size_t base = rel.size();
    for (;;) {
      ssize_t n = ::getdents64(dfd.get(), buf, kDentsBuf);
      if (n < 0 && errno == EINTR) continue;
      check(n, "getdents64", dir);
      if (n == 0) break;
      reserve_for(buf, n, base, node);
      // Counted per batch: one shared atomic per entry bounced between the cores.
      size_t counted = 0;
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
        ++counted;
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
              arena.resize(l.path_off);
              raced(rel);
              continue;
            }
            throw SysError("readlinkat", rel, errno);
          }
          if (static_cast<size_t>(ln) >= sizeof lbuf)
            throw LimitError("scan: symlink target longer than 4096 bytes at '" + escape_name(rel) +
                             "'");
          target.assign(lbuf, static_cast<size_t>(ln));
        }
        if (opts_.all_xattrs && l.e.type != EntryType::kDir && l.e.type != EntryType::kFile) {
          const std::vector<Xattr>* same_x = reuse_xattrs(rel, l.e);
          xs = same_x ? *same_x : read_xattrs_at(dfd.get(), name, rel);
        }
        if (l.e.type == EntryType::kFile) {
          Counters::add(counters_[w].files_seen, 1);
          Counters::add(counters_[w].bytes_seen, l.e.size);
          l.hash = opts_.hash_all || (opts_.want_hash && opts_.want_hash(rel, l.e));
        }
        if (!target.empty() || !xs.empty()) {
          l.extra = static_cast<uint32_t>(extras.size());
          extras.emplace_back(std::move(target), std::move(xs));
        }
        locals.push_back(l);
      }
      if (count_.fetch_add(counted, std::memory_order_relaxed) + counted > opts_.max_entries)
        throw LimitError("scan: more than " + std::to_string(opts_.max_entries) + " entries");
    }
    if (sort_names(node, pool.scratch, root_dev_)) raced(dir);

    // Hand the subdirectories to the other workers before hashing this directory's files.
    {
      std::lock_guard lk(mu_);
      bool pushed = false;
      for (Local& l : locals) {
        // A directory on another device is a mount point: recorded, never entered.
        if (l.e.type != EntryType::kDir || l.dev != root_dev_ || l.dropped) continue;
        stack_.push_back(
            DirItem{std::string(arena.data() + l.path_off, l.path_len), l.e, &l.child});
        pushed = true;
      }
      if (pushed) cv_.notify_all();
    }
    hash_files(dfd.get(), node, w);
  }

  bool deferrable(uint64_t size) const { return size >= opts_.defer_min && size < opts_.defer_max; }

  // At most defer_count files of a walk are deferred (each costs a path kept
  // and a second open); the rest are hashed where they are found.
  bool take_defer_slot() {
    return deferred_total_.fetch_add(1, std::memory_order_relaxed) < opts_.defer_count;
  }

  // Opens, checks and hashes the chosen files of one directory, relative to its
  // fd: one openat per file instead of a path resolution from the root. Files
  // of a deferrable size are left to the workers with no directory to read.
  void hash_files(int dfd, DirNode& node, unsigned w) {
    std::vector<FileIssue> issues;
    std::vector<Deferred> later;
    for (uint32_t i = 0; i < node.locals.size(); ++i) {
      Local& l = node.locals[i];
      if (!l.hash || l.dropped) continue;
      std::string_view path(node.arena.data() + l.path_off, l.path_len);
      const char* name = node.arena.data() + l.path_off + l.name_off;
      // Known from fstatat (a verify): not even opened here.
      if (!l.unstated && deferrable(l.e.size) && take_defer_slot()) {
        later.push_back(Deferred{l.e.size, &node, i});
        continue;
      }
      int fd = open_file(dfd, name);
      if (fd < 0) {
        open_failed(issues, path, "openat", -fd);
        continue;
      }
      UniqueFd owned(fd);
      struct stat st {};
      if (!stat_open(fd, st, path, issues)) continue;
      if (l.unstated && S_ISREG(st.st_mode) && st.st_dev == root_dev_ &&
          deferrable(static_cast<uint64_t>(st.st_size)) && take_defer_slot()) {
        // A build learns the size only now: the file is closed and reopened by
        // its path later, and must then be this inode (hash_open checks it).
        Counters::add(counters_[w].bytes_seen, static_cast<uint64_t>(st.st_size));
        l.e = make_entry(st);
        l.unstated = false;
        later.push_back(Deferred{l.e.size, &node, i});
        continue;
      }
      hash_open(fd, st, node, l, path, w, issues);
    }
    if (issues.empty() && later.empty()) return;
    // Handed on once this worker is done with the node: the deferred files'
    // results go into it from other workers.
    std::lock_guard lk(mu_);
    for (FileIssue& f : issues) res_.issues.push_back(std::move(f));
    if (later.empty()) return;
    for (const Deferred& d : later) {
      deferred_.push_back(d);
      std::push_heap(deferred_.begin(), deferred_.end(), by_size);
    }
    cv_.notify_all();
  }

  void open_failed(std::vector<FileIssue>& issues, std::string_view path, const char* op, int err) {
    if (raced_errno(err)) {
      issues.push_back(FileIssue{std::string(path), FileIssue::kChanged, {}, {}});
    } else {
      SysError e(op, path, err);
      issues.push_back(
          FileIssue{std::string(path), FileIssue::kError, std::make_exception_ptr(e), e.what()});
    }
  }

  // Reopens a deferred file by its path beneath the root (the same checks as
  // any path the walk opens: no symlink, no mount crossed) and hashes it.
  void hash_deferred(const Deferred& d, unsigned w) {
    DirNode& node = *d.node;
    Local& l = node.locals[d.local];
    std::string_view path(node.arena.data() + l.path_off, l.path_len);
    if (opts_.before_deferred) opts_.before_deferred(path);
    std::vector<FileIssue> issues;
    UniqueFd fd;
    try {
      fd = open_rel(path, O_RDONLY);
    } catch (const SysError& e) {
      open_failed(issues, path, "openat2", e.code());
    }
    struct stat st {};
    if (fd && stat_open(fd.get(), st, path, issues))
      hash_open(fd.get(), st, node, l, path, w, issues, &mu_);
    if (issues.empty()) return;
    std::lock_guard lk(mu_);
    for (FileIssue& f : issues) res_.issues.push_back(std::move(f));
  }

  static bool stat_open(int fd, struct stat& st, std::string_view path,
                        std::vector<FileIssue>& issues) {
    if (::fstat(fd, &st) == 0) return true;
    SysError err("fstat", path, errno);
    issues.push_back(
        FileIssue{std::string(path), FileIssue::kError, std::make_exception_ptr(err), err.what()});
    return false;
  }

  // Checks that fd (st: its fstat) is the file the walk saw and hashes it into
  // l. extras_mu: held while the node's extras grow (deferred files of one node
  // are hashed on several workers).
  void hash_open(int fd, const struct stat& st, DirNode& node, Local& l, std::string_view path,
                 unsigned w, std::vector<FileIssue>& issues, std::mutex* extras_mu = nullptr) {
    auto issue = [&](FileIssue::What what, std::exception_ptr err = {}, std::string note = {}) {
      issues.push_back(FileIssue{std::string(path), what, std::move(err), std::move(note)});
    };
    // The file the walk saw, on the tree's filesystem; its metadata now, before
    // the first read: a write after this moves ctime, so a later quick check
    // rehashes the file rather than trusting a digest of older bytes.
    if (!S_ISREG(st.st_mode) || (!l.unstated && st.st_ino != l.e.ino) || st.st_dev != root_dev_) {
      issue(FileIssue::kChanged);
      return;
    }
    Counters& c = counters_[w];
    if (l.unstated) Counters::add(c.bytes_seen, static_cast<uint64_t>(st.st_size));
    Entry e = make_entry(st);
    std::vector<Xattr> xattrs;
    try {
      xattrs = read_xattrs_fd(fd, opts_.all_xattrs, path, list_first_);
      bool same = hashers_[w].hash(fd, e.size, e.sha256, path, worth_mapping(st));
      Counters::add(c.files_done, 1);
      Counters::add(c.bytes_done, e.size);
      if (!same) {
        issue(FileIssue::kResized);
        return;
      }
    } catch (const SysError& err) {
      issue(FileIssue::kError, std::current_exception(), err.what());
      return;
    }
    e.hashed = true;
    l.e = e;
    l.unstated = false;
    // A file's extras hold no link target, and none were read for it before.
    if (!xattrs.empty()) {
      std::unique_lock<std::mutex> lk;
      if (extras_mu != nullptr) lk = std::unique_lock(*extras_mu);
      if (l.extra == UINT32_MAX) {
        l.extra = static_cast<uint32_t>(node.extras.size());
        node.extras.emplace_back(std::string(), std::move(xattrs));
      } else {
        node.extras[l.extra].second = std::move(xattrs);
      }
    }
  }

  // Joins the nodes into the manifest in path order, then checks that order on
  // every core (it holds by construction; a failed check falls back to a sort).
  void assemble(const Entry& root, unsigned threads) {
    size_t entries = 1, bytes = 0;
    for (const Pool& p : pools_) {
      for (const DirNode* n : p.nodes) {
        entries += n->order.size();
        bytes += n->arena.size();
      }
    }
    Manifest& m = res_.manifest;
    m.reserve(entries, bytes);
    // No root node: the root changed before it was read (reported in raced).
    m.add("", root, {}, root_node_ ? std::move(root_node_->xattrs) : std::vector<Xattr>());
    if (root_node_ != nullptr) emit(*root_node_);
    free_nodes();  // give the memory back before the manifest is formatted
    const std::vector<Entry>& es = m.entries();
    constexpr size_t kChunk = 16384;
    std::atomic<bool> sorted{true};
    parallel_for((es.size() + kChunk - 1) / kChunk, threads, [&](size_t c, unsigned) {
      size_t end = std::min(es.size(), (c + 1) * kChunk);
      for (size_t i = std::max<size_t>(1, c * kChunk); i < end; ++i)
        if (!(m.path(es[i - 1]) < m.path(es[i]))) sorted = false;
    });
    if (!sorted) m.sort();  // throws on a duplicate path
  }

  // Joins the nodes on a thread of its own while the calling thread writes the
  // text of what is joined so far (text::write_filling formats it on every core
  // and checks the order): the join no longer runs alone after the walk.
  void assemble_writing(const Entry& root) {
    size_t entries = 1, bytes = 0, extras = 1;
    for (const Pool& p : pools_) {
      for (const DirNode* n : p.nodes) {
        for (uint32_t o : n->order) entries += o % 2 == 0 ? 1 : 0;
        bytes += n->arena.size();
        extras += n->extras.size() + 1;  // + the directory's own xattrs
      }
    }
    Manifest& m = res_.manifest;
    m.ignore = opts_.manifest_ignore;
    // Exact entry count, bounds for the rest: nothing moves while the writer reads.
    m.reserve(entries, bytes, extras);
    std::atomic<size_t> ready{0};
    std::exception_ptr join_error;
    ready_ = &ready;
    std::thread joiner([&] {
      try {
        m.add("", root, {}, root_node_ ? std::move(root_node_->xattrs) : std::vector<Xattr>());
        if (root_node_ != nullptr) emit(*root_node_);
        if (m.size() != entries)
          throw Error("scan: joined " + std::to_string(m.size()) + " entries of " +
                      std::to_string(entries));
        ready.store(entries, std::memory_order_release);
      } catch (...) {
        join_error = std::current_exception();
        ready.store(text::kFillFailed, std::memory_order_release);
      }
      ready.notify_all();
      free_nodes();
    });
    ScopeExit join([&] {
      joiner.join();
      ready_ = nullptr;
    });
    try {
      text::write_filling(m, entries, ready, opts_.text_sink);
    } catch (...) {
      join.dismiss();
      joiner.join();
      ready_ = nullptr;
      if (join_error) std::rethrow_exception(join_error);
      throw;
    }
  }

  void emit(DirNode& node) {
    Manifest& m = res_.manifest;
    for (uint32_t o : node.order) {
      Local& l = node.locals[o / 2];
      if (o % 2 == 1) {
        if (l.child != nullptr) emit(*l.child);  // null: changed before it was read
        continue;
      }
      std::string_view path(node.arena.data() + l.path_off, l.path_len);
      std::string_view link;
      std::vector<Xattr> xattrs;
      if (l.extra != UINT32_MAX) {
        link = node.extras[l.extra].first;
        xattrs = std::move(node.extras[l.extra].second);
      }
      if (l.child != nullptr) xattrs = std::move(l.child->xattrs);
      m.add(path, l.e, link, std::move(xattrs));
      if (ready_ != nullptr && m.size() % 2048 == 0) {
        ready_->store(m.size(), std::memory_order_release);
        ready_->notify_all();
      }
    }
  }

  void free_nodes() {
    for (Pool& p : pools_) {
      for (DirNode* n : p.nodes) n->~DirNode();
      p.nodes.clear();
    }
    pools_.clear();
    root_node_ = nullptr;
  }

  static constexpr size_t kDentsBuf = 65536;

  int root_fd_;
  const WalkOptions& opts_;
  WalkResult& res_;
  uint64_t root_dev_ = 0;
  bool list_first_ = false;
  std::vector<FileHasher> hashers_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<DirItem> stack_;
  std::vector<Pool> pools_;  // one per worker
  DirNode* root_node_ = nullptr;
  std::atomic<size_t>* ready_ = nullptr;  // assemble_writing: entries joined so far
  unsigned busy_ = 0;
  bool failed_ = false;
  std::vector<Deferred> deferred_;  // a heap by size (by_size), under mu_
  std::atomic<size_t> count_{0}, deferred_total_{0};
  std::atomic<bool> noatime_{true};
  std::unique_ptr<Counters[]> counters_;
  unsigned threads_ = 1;
};

}  // namespace

WalkResult walk_tree(int root_fd, const WalkOptions& opts) {
  WalkResult res;
  Walker(root_fd, opts, res).run();
  return res;
}

}  // namespace goodcop::integrity
