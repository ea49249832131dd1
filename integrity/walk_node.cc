#include "integrity/walk_node.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

namespace goodcop::integrity::detail {
namespace {

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

}  // namespace

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

bool sort_names(DirNode& node, std::vector<uint32_t>& items, uint64_t root_dev) {
  // Items are 2 * local index + 1 for "the entries below it" (sorting as name + "/").
  items.clear();
  for (uint32_t i = 0; i < node.locals.size(); ++i) {
    const Local& l = node.locals[i];
    items.push_back(2 * i);
    if (l.e.type == EntryType::kDir && l.dev == root_dev) items.push_back(2 * i + 1);
  }
  auto name = [&node](uint32_t item) {
    const Local& l = node.locals[item / 2];
    return std::string_view(node.arena.data() + l.path_off + l.name_off, l.path_len - l.name_off);
  };
  std::sort(items.begin(), items.end(), [&](uint32_t a, uint32_t b) {
    std::string_view na = name(a), nb = name(b);
    size_t n = std::min(na.size(), nb.size());
    int r = na.substr(0, n).compare(nb.substr(0, n));
    if (r != 0) return r < 0;
    // One is a prefix of the other: the next byte decides, '/' for a subtree, none for an entry.
    int ca = na.size() > n ? static_cast<unsigned char>(na[n]) : (a % 2 == 1 ? '/' : -1);
    int cb = nb.size() > n ? static_cast<unsigned char>(nb[n]) : (b % 2 == 1 ? '/' : -1);
    if (ca != cb) return ca < cb;
    if (a % 2 != b % 2) return a % 2 == 0;
    return a < b;
  });
  bool dup = false;
  node.order.clear();
  node.order.reserve(items.size());
  std::string_view prev;  // the name of the last entry kept
  bool have_prev = false;
  for (uint32_t it : items) {
    Local& l = node.locals[it / 2];
    if (it % 2 == 0) {
      if (have_prev && prev == name(it)) {
        l.dropped = true;
        dup = true;
        continue;
      }
      prev = name(it);
      have_prev = true;
    } else if (l.dropped) {
      continue;
    }
    node.order.push_back(it);
  }
  return dup;
}

void reserve_for(const char* buf, ssize_t n, size_t base, DirNode& node) {
  size_t count = 0, bytes = 0;
  for (ssize_t off = 0; off < n;) {
    auto* d = reinterpret_cast<const struct dirent64*>(buf + off);
    off += d->d_reclen;
    ++count;
    bytes += base + std::strlen(d->d_name) + 1;
  }
  node.locals.reserve(node.locals.size() + count);
  node.arena.reserve(node.arena.size() + bytes);
}

}  // namespace goodcop::integrity::detail
