#include "integrity/manifest.h"

#include <algorithm>
#include <numeric>

#include "base/error.h"

namespace goodcop::integrity {

std::string_view type_name(EntryType t) {
  switch (t) {
    case EntryType::kFile: return "file";
    case EntryType::kDir: return "dir";
    case EntryType::kSymlink: return "link";
    case EntryType::kFifo: return "fifo";
    case EntryType::kChar: return "char";
    case EntryType::kBlock: return "block";
    case EntryType::kSocket: return "socket";
  }
  return "?";
}

void Manifest::add(std::string_view path, Entry e, std::string_view link_target,
                   std::vector<Xattr> xattrs) {
  if (arena_.size() + path.size() > UINT32_MAX) throw Error("manifest: path arena too large");
  e.path_off = static_cast<uint32_t>(arena_.size());
  e.path_len = static_cast<uint32_t>(path.size());
  arena_.append(path);
  e.extra = Entry::kNoExtra;
  if (!link_target.empty() || !xattrs.empty()) {
    std::sort(xattrs.begin(), xattrs.end());
    e.extra = static_cast<uint32_t>(extras_.size());
    extras_.push_back(Extra{std::string(link_target), std::move(xattrs)});
  }
  entries_.push_back(e);
}

void Manifest::sort() {
  auto less = [this](const Entry& a, const Entry& b) { return path(a) < path(b); };
  if (!std::is_sorted(entries_.begin(), entries_.end(), less)) {
    // Sort 4-byte indices, then move each Entry once (an Entry is about 100 bytes).
    std::vector<uint32_t> order(entries_.size());
    std::iota(order.begin(), order.end(), 0u);
    std::sort(order.begin(), order.end(),
              [&](uint32_t a, uint32_t b) { return less(entries_[a], entries_[b]); });
    permute(order);
  }
  for (size_t i = 1; i < entries_.size(); ++i) {
    if (path(entries_[i - 1]) == path(entries_[i]))
      throw Error("manifest: duplicate path '" + escape_name(path(entries_[i])) + "'");
  }
}

void Manifest::permute(const std::vector<uint32_t>& order) {
  if (order.size() != entries_.size()) throw Error("manifest: bad permutation");
  std::vector<Entry> out;
  out.reserve(entries_.size());
  for (uint32_t i : order) out.push_back(entries_.at(i));
  entries_ = std::move(out);
}

std::string_view Manifest::link_target(const Entry& e) const {
  if (e.extra == Entry::kNoExtra) return {};
  return extras_[e.extra].link;
}

const std::vector<Xattr>& Manifest::xattrs(const Entry& e) const {
  static const std::vector<Xattr> kNone;
  if (e.extra == Entry::kNoExtra) return kNone;
  return extras_[e.extra].xattrs;
}

void Manifest::set_xattrs(Entry& e, std::vector<Xattr> xattrs) {
  std::sort(xattrs.begin(), xattrs.end());
  if (e.extra == Entry::kNoExtra) {
    if (xattrs.empty()) return;
    e.extra = static_cast<uint32_t>(extras_.size());
    extras_.push_back(Extra{{}, std::move(xattrs)});
    return;
  }
  extras_[e.extra].xattrs = std::move(xattrs);
}

const Entry* Manifest::find(std::string_view p) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), p,
                             [this](const Entry& e, std::string_view v) { return path(e) < v; });
  if (it == entries_.end() || path(*it) != p) return nullptr;
  return &*it;
}

size_t Manifest::memory_bytes() const {
  size_t n = entries_.capacity() * sizeof(Entry) + arena_.capacity() +
             extras_.capacity() * sizeof(Extra);
  for (const Extra& x : extras_) {
    n += x.link.capacity() > 15 ? x.link.capacity() : 0;
    for (const Xattr& a : x.xattrs) n += sizeof(Xattr) + a.first.capacity() + a.second.capacity();
  }
  return n;
}

std::string hex(const std::array<uint8_t, 32>& d) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(64, '0');
  for (size_t i = 0; i < d.size(); ++i) {
    s[2 * i] = kHex[d[i] >> 4];
    s[2 * i + 1] = kHex[d[i] & 15];
  }
  return s;
}

std::string escape_name(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (char ch : raw) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f || c == '\\' || c == '#' || c == '=') {
      out += '\\';
      out += static_cast<char>('0' + ((c >> 6) & 7));
      out += static_cast<char>('0' + ((c >> 3) & 7));
      out += static_cast<char>('0' + (c & 7));
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace goodcop::integrity
