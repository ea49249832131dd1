#include "integrity/verify.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <unordered_map>

#include "base/error.h"
#include "integrity/hash.h"
#include "integrity/scan.h"
#include "integrity/walk.h"

namespace goodcop::integrity {
namespace {

constexpr uint32_t kNone = UINT32_MAX;

// The first path (in manifest order) of each multiply-linked regular file: two
// paths are hard links of each other exactly when their leaders are equal.
class Leaders {
 public:
  explicit Leaders(const Manifest& m) : m_(m) {
    const auto& es = m.entries();
    for (size_t i = 0; i < es.size(); ++i) {
      if (es[i].type != EntryType::kFile || es[i].nlink < 2) continue;
      auto [it, fresh] = groups_.try_emplace(es[i].ino, Group{static_cast<uint32_t>(i), 0});
      ++it->second.count;
    }
  }
  // The leader's path, or "" when no other path of this tree shares the inode.
  std::string_view of(const Entry& e) const {
    if (e.type != EntryType::kFile || e.nlink < 2) return {};
    auto it = groups_.find(e.ino);
    if (it == groups_.end() || it->second.count < 2) return {};
    return m_.path(m_.entries()[it->second.first]);
  }

 private:
  struct Group {
    uint32_t first;
    uint32_t count;
  };
  const Manifest& m_;
  std::unordered_map<uint64_t, Group> groups_;
};

EntryInfo info_of(const Manifest& m, const Entry& e, const Leaders& l) {
  EntryInfo i;
  i.type = e.type;
  i.mode = e.mode;
  i.uid = e.uid;
  i.gid = e.gid;
  i.nlink = e.nlink;
  i.size = e.size;
  i.ino = e.ino;
  i.rdev = e.rdev;
  i.mtime_ns = e.mtime_ns;
  i.link = std::string(m.link_target(e));
  i.xattrs = m.xattrs(e);
  if (e.hashed) i.sha256 = hex(e.sha256);
  i.hardlink_to = std::string(l.of(e));
  return i;
}

// Metadata differences, without content and (for regular files) xattrs.
uint32_t compare_meta(const Manifest& ma, const Entry& a, const Leaders& la, const Manifest& mb,
                      const Entry& b, const Leaders& lb, bool local) {
  if (a.type != b.type) return kType;
  uint32_t k = 0;
  if (a.mode != b.mode) k |= kMode;
  if (a.uid != b.uid || a.gid != b.gid) k |= kOwner;
  // A directory's mtime moves whenever an entry comes or goes, ignored ones
  // included, and the entries themselves are compared; a symlink is its target
  // (compared below). Their mtimes would add only noise.
  if (a.type != EntryType::kDir && a.type != EntryType::kSymlink && a.mtime_ns != b.mtime_ns)
    k |= kMtime;
  if (a.type == EntryType::kSymlink && ma.link_target(a) != mb.link_target(b)) k |= kLink;
  if (a.rdev != b.rdev) k |= kDevice;
  if (a.type != EntryType::kDir && a.nlink != b.nlink) k |= kNlink;
  if (local && a.ino != b.ino) k |= kInode;
  if (a.type == EntryType::kFile && a.size != b.size) k |= kContent;
  if (la.of(a) != lb.of(b)) k |= kHardlink;
  return k;
}

// One path present on both sides, or on one.
struct Pending {
  uint32_t ri = kNone, ci = kNone;  // index in the reference / current manifest
  uint32_t kinds = 0;
  std::string note;
};

// A fingerprint of an entry's recorded xattrs (FNV-1a over lengths and bytes): a
// cache record made against one manifest is not reused against another.
uint64_t xattr_print(const std::vector<Xattr>& xs) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](std::string_view s) {
    for (char c : std::to_string(s.size()) + ':') h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  };
  for (const Xattr& x : xs) {
    mix(x.first);
    mix(x.second);
  }
  return h;
}

Diff finish(const Manifest& ref, const Leaders& lr, const Manifest& cur, const Leaders& lc,
            std::vector<Pending>& pend, size_t max_changes) {
  Diff d;
  for (Pending& p : pend) {
    if (p.kinds == 0) continue;
    if (p.kinds & kAdded) ++d.added;
    else if (p.kinds & kRemoved) ++d.removed;
    else ++d.changed;
    if (d.changes.size() >= max_changes) {
      d.truncated = true;
      continue;
    }
    Change c;
    const Entry* re = p.ri != kNone ? &ref.entries()[p.ri] : nullptr;
    const Entry* ce = p.ci != kNone ? &cur.entries()[p.ci] : nullptr;
    c.path = std::string(re ? ref.path(*re) : cur.path(*ce));
    c.kinds = p.kinds;
    c.note = std::move(p.note);
    if (re) c.old_info = info_of(ref, *re, lr);
    // The current side has a digest and xattrs only where the file was opened now.
    if (ce) c.new_info = info_of(cur, *ce, lc);
    d.changes.push_back(std::move(c));
  }
  return d;
}

// Merges two sorted manifests into pendings (one per path on either side).
std::vector<Pending> merge(const Manifest& ref, const Leaders& lr, const Manifest& cur,
                           const Leaders& lc, bool local) {
  std::vector<Pending> pend;
  pend.reserve(std::max(ref.size(), cur.size()));
  const auto& re = ref.entries();
  const auto& ce = cur.entries();
  size_t i = 0, j = 0;
  while (i < re.size() || j < ce.size()) {
    Pending p;
    int cmp = i >= re.size() ? 1 : j >= ce.size() ? -1 : ref.path(re[i]).compare(cur.path(ce[j]));
    if (cmp < 0) {
      p.ri = static_cast<uint32_t>(i++);
      p.kinds = kRemoved;
    } else if (cmp > 0) {
      p.ci = static_cast<uint32_t>(j++);
      p.kinds = kAdded;
    } else {
      p.ri = static_cast<uint32_t>(i++);
      p.ci = static_cast<uint32_t>(j++);
      p.kinds = compare_meta(ref, re[p.ri], lr, cur, ce[p.ci], lc, local);
    }
    pend.push_back(std::move(p));
  }
  return pend;
}

}  // namespace

// The one place that reaches into VerifyCache (declared a friend there).
struct CacheAccess {
  using Seen = VerifyCache::Seen;
  static uint64_t& dev(VerifyCache& c) { return c.dev_; }
  static std::unordered_map<std::string, Seen>& seen(VerifyCache& c) { return c.seen_; }
};

const char* kind_name(Kind k) {
  switch (k) {
    case kAdded: return "added";
    case kRemoved: return "removed";
    case kType: return "type";
    case kContent: return "content";
    case kMode: return "mode";
    case kOwner: return "owner";
    case kMtime: return "mtime";
    case kLink: return "link";
    case kDevice: return "device";
    case kXattr: return "xattr";
    case kHardlink: return "hardlink";
    case kNlink: return "nlink";
    case kInode: return "inode";
    case kUnreadable: return "unreadable";
  }
  return "?";
}

uint64_t rolling_budget(uint64_t total_bytes, uint64_t interval, uint64_t full_every) {
  if (full_every == 0 || interval >= full_every) return total_bytes;
  // Round up, so the whole tree is covered within full_every.
  unsigned __int128 b = static_cast<unsigned __int128>(total_bytes) * interval;
  return static_cast<uint64_t>((b + full_every - 1) / full_every);
}

Diff diff(const Manifest& old_m, const Manifest& new_m, bool local, size_t max_changes) {
  Leaders lo(old_m), ln(new_m);
  std::vector<Pending> pend = merge(old_m, lo, new_m, ln, local);
  for (Pending& p : pend) {
    if (p.ri == kNone || p.ci == kNone || (p.kinds & kType)) continue;
    const Entry& a = old_m.entries()[p.ri];
    const Entry& b = new_m.entries()[p.ci];
    if (old_m.xattrs(a) != new_m.xattrs(b)) p.kinds |= kXattr;
    if (a.type == EntryType::kFile && a.hashed && b.hashed && a.sha256 != b.sha256) p.kinds |= kContent;
  }
  Diff d = finish(old_m, lo, new_m, ln, pend, max_changes);
  d.entries = new_m.size();
  return d;
}

Diff verify(int root_fd, const Manifest& m, const VerifyOptions& opts, RollingState* rolling,
            VerifyCache* cache) {
  bool quick = opts.mode == VerifyMode::kQuick && opts.local;
  VerifyCache* vc = quick ? cache : nullptr;
  if (vc != nullptr) {
    auto dev = static_cast<uint64_t>(fstat_fd(root_fd, "tree root").st_dev);
    if (CacheAccess::dev(*vc) != dev) {
      vc->clear();
      CacheAccess::dev(*vc) = dev;
    }
  }
  // A cache record for this path that the file as stat'ed now still matches.
  auto cached = [&](std::string_view rel, const Entry& re, const Entry& ce) -> const CacheAccess::Seen* {
    if (vc == nullptr || !re.hashed) return nullptr;
    auto& seen = CacheAccess::seen(*vc);
    if (seen.empty()) return nullptr;
    auto it = seen.find(std::string(rel));
    if (it == seen.end()) return nullptr;
    const CacheAccess::Seen& s = it->second;
    if (s.ctime_ns != ce.ctime_ns || s.size != ce.size || s.ino != ce.ino || s.sha256 != re.sha256 ||
        s.xattrs != xattr_print(m.xattrs(re)))
      return nullptr;
    return &s;
  };

  // The rolling rehash: the manifest's files from the cursor on, within the
  // budget, are read this time whatever their metadata says.
  std::vector<bool> roll;
  if (quick && rolling != nullptr && opts.rolling_budget > 0 && m.size() > 0) {
    roll.assign(m.size(), false);
    int64_t budget = static_cast<int64_t>(std::min<uint64_t>(opts.rolling_budget, INT64_MAX));
    size_t steps = 0;
    if (rolling->cursor >= m.size()) rolling->cursor = 0;
    while (budget > 0 && steps++ < m.size()) {
      size_t ri = rolling->cursor;
      if (++rolling->cursor >= m.size()) {
        rolling->cursor = 0;
        ++rolling->passes;
      }
      const Entry& re = m.entries()[ri];
      if (re.type != EntryType::kFile) continue;
      roll[ri] = true;
      budget -= static_cast<int64_t>(std::max<uint64_t>(re.size, 64 * 1024));
    }
  }

  WalkOptions wo;
  std::vector<std::string> globs = m.ignore;
  globs.insert(globs.end(), opts.ignore.begin(), opts.ignore.end());
  wo.ignore = IgnoreSet(globs);
  wo.all_xattrs = opts.all_xattrs;
  wo.max_entries = opts.max_entries;
  wo.max_path = opts.max_path;
  wo.reference = opts.local ? &m : nullptr;
  wo.threads = hash_threads(opts.threads);
  // Decided per file as the walk stats it. Never read a file already known to
  // differ (new path, other type, other size): a planted 1 TiB sparse file costs
  // one fstatat.
  wo.want_hash = [&](std::string_view rel, const Entry& ce) {
    const Entry* re = m.find(rel);
    if (re == nullptr || re->type != EntryType::kFile || re->size != ce.size) return false;
    if (!quick) return true;
    if (!roll.empty() && roll[static_cast<size_t>(re - m.entries().data())]) return true;
    if (re->ino == ce.ino && re->ctime_ns == ce.ctime_ns) return false;
    return cached(rel, *re, ce) == nullptr;
  };
  WalkResult w;
  try {
    w = walk_tree(root_fd, wo);
  } catch (const LimitError& e) {
    Diff d;
    d.limit = e.what();
    return d;
  }
  const Manifest& cur = w.manifest;
  Leaders lr(m), lc(cur);
  std::vector<Pending> pend = merge(m, lr, cur, lc, opts.local);

  std::unordered_map<std::string, CacheAccess::Seen> kept;
  for (Pending& p : pend) {
    if (p.ri == kNone || p.ci == kNone || (p.kinds & kType)) continue;
    const Entry& re = m.entries()[p.ri];
    const Entry& ce = cur.entries()[p.ci];
    if (re.type != EntryType::kFile) {
      if (m.xattrs(re) != cur.xattrs(ce)) p.kinds |= kXattr;
      continue;
    }
    bool moved = re.ino != ce.ino || re.ctime_ns != ce.ctime_ns;
    if (!ce.hashed) {
      // Not opened: unchanged metadata, known to differ, or vouched for by the cache.
      if (vc != nullptr && moved && !(p.kinds & kContent)) {
        if (const CacheAccess::Seen* s = cached(cur.path(ce), re, ce))
          kept.emplace(std::string(cur.path(ce)), *s);
      }
      continue;
    }
    if (!re.hashed || ce.sha256 != re.sha256) p.kinds |= kContent;
    if (cur.xattrs(ce) != m.xattrs(re)) p.kinds |= kXattr;
    // Clean bytes at a moved ctime: remembered, so the next check need not read them.
    if (vc != nullptr && moved && !(p.kinds & (kContent | kXattr)))
      kept[std::string(m.path(re))] =
          CacheAccess::Seen{ce.ctime_ns, ce.size, ce.ino, re.sha256, xattr_print(m.xattrs(re))};
  }
  if (vc != nullptr) CacheAccess::seen(*vc) = std::move(kept);

  auto pending_at = [&](std::string_view path) -> Pending* {
    auto it = std::lower_bound(pend.begin(), pend.end(), path, [&](const Pending& p, std::string_view v) {
      return (p.ri != kNone ? m.path(m.entries()[p.ri]) : cur.path(cur.entries()[p.ci])) < v;
    });
    if (it == pend.end() || it->ci == kNone || cur.path(cur.entries()[it->ci]) != path) return nullptr;
    return &*it;
  };
  for (const FileIssue& i : w.issues) {
    Pending* p = pending_at(i.path);
    if (p == nullptr) continue;
    if (i.what == FileIssue::kResized) {
      p->kinds |= kContent;  // grew or shrank under us: not the manifest's bytes
    } else {
      p->kinds |= kUnreadable;
      p->note = i.what == FileIssue::kChanged ? "changed during the check" : i.note;
    }
  }
  for (const std::string& r : w.raced) {
    if (Pending* p = pending_at(r)) {
      p->kinds |= kUnreadable;
      p->note = "changed during the check";
    }
  }
  Diff d = finish(m, lr, cur, lc, pend, opts.max_changes);
  d.entries = cur.size();
  d.files_hashed = w.files_hashed;
  d.bytes_hashed = w.bytes_hashed;
  return d;
}

}  // namespace goodcop::integrity
