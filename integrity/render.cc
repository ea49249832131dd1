// Rendering a Diff: human lines and the stable JSON form ("goodcop-diff" v1,
// docs/manifest.md). Paths and names are escaped as in the manifest, so neither
// form carries raw bytes a hostile jail chose (terminal escapes, invalid UTF-8).
#include <sys/sysmacros.h>

#include <fmt/format.h>

#include "integrity/verify.h"

namespace goodcop::integrity {
namespace {

constexpr Kind kAllKinds[] = {kAdded, kRemoved, kType,  kContent,  kMode,  kOwner,     kMtime,
                              kLink,  kDevice,  kXattr, kHardlink, kNlink, kInode, kUnreadable};

std::string shown(std::string_view path) { return path.empty() ? "." : escape_name(path); }

std::string time_str(int64_t ns) {
  int64_t sec = ns / 1'000'000'000, frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    sec -= 1;
  }
  return fmt::format("{}.{:09}", sec, frac);
}

std::string hex_bytes(std::string_view raw) {
  std::string s;
  for (char c : raw) s += fmt::format("{:02x}", static_cast<unsigned char>(c));
  return s;
}

nlohmann::json entry_json(const EntryInfo& i) {
  nlohmann::json j;
  j["type"] = std::string(type_name(i.type));
  j["mode"] = fmt::format("{:04o}", i.mode);
  j["uid"] = i.uid;
  j["gid"] = i.gid;
  j["nlink"] = i.nlink;
  j["inode"] = i.ino;
  j["mtime"] = time_str(i.mtime_ns);
  if (i.type == EntryType::kFile) j["size"] = i.size;
  if (i.type == EntryType::kSymlink) j["link"] = escape_name(i.link);
  if (i.type == EntryType::kChar || i.type == EntryType::kBlock)
    j["device"] = {::major(i.rdev), ::minor(i.rdev)};
  if (!i.sha256.empty()) j["sha256"] = i.sha256;
  if (!i.hardlink_to.empty()) j["hardlink_to"] = shown(i.hardlink_to);
  nlohmann::json xs = nlohmann::json::object();
  for (const Xattr& x : i.xattrs) xs[escape_name(x.first)] = hex_bytes(x.second);
  j["xattrs"] = xs;
  return j;
}

std::string detail(const Change& c, Kind k) {
  const EntryInfo* o = c.old_info ? &*c.old_info : nullptr;
  const EntryInfo* n = c.new_info ? &*c.new_info : nullptr;
  if (o == nullptr || n == nullptr) return kind_name(k);
  switch (k) {
    case kType: return fmt::format("type {} -> {}", type_name(o->type), type_name(n->type));
    case kContent:
      if (o->size != n->size) return fmt::format("content (size {} -> {})", o->size, n->size);
      return "content";
    case kMode: return fmt::format("mode {:04o} -> {:04o}", o->mode, n->mode);
    case kOwner: return fmt::format("owner {}:{} -> {}:{}", o->uid, o->gid, n->uid, n->gid);
    case kMtime: return fmt::format("mtime {} -> {}", time_str(o->mtime_ns), time_str(n->mtime_ns));
    case kLink: return fmt::format("link '{}' -> '{}'", escape_name(o->link), escape_name(n->link));
    case kDevice:
      return fmt::format("device {},{} -> {},{}", ::major(o->rdev), ::minor(o->rdev), ::major(n->rdev),
                         ::minor(n->rdev));
    case kXattr: {
      std::string names;
      auto add = [&](const std::string& name) {
        if (!names.empty()) names += ",";
        names += escape_name(name);
      };
      for (const Xattr& x : o->xattrs) {
        auto it = std::find_if(n->xattrs.begin(), n->xattrs.end(), [&](const Xattr& y) { return y.first == x.first; });
        if (it == n->xattrs.end() || it->second != x.second) add(x.first);
      }
      for (const Xattr& y : n->xattrs) {
        auto it = std::find_if(o->xattrs.begin(), o->xattrs.end(), [&](const Xattr& x) { return x.first == y.first; });
        if (it == o->xattrs.end()) add(y.first);
      }
      return "xattr " + names;
    }
    case kHardlink:
      return fmt::format("hardlink '{}' -> '{}'", o->hardlink_to.empty() ? "" : shown(o->hardlink_to),
                         n->hardlink_to.empty() ? "" : shown(n->hardlink_to));
    case kNlink: return fmt::format("nlink {} -> {}", o->nlink, n->nlink);
    case kInode: return fmt::format("inode {} -> {}", o->ino, n->ino);
    case kUnreadable: return "unreadable (" + c.note + ")";
    default: return kind_name(k);
  }
}

}  // namespace

std::string format_human(const Diff& d) {
  std::string out;
  for (const Change& c : d.changes) {
    if (c.kinds & kAdded) {
      out += fmt::format("added    {} ({})\n", shown(c.path), type_name(c.new_info->type));
      continue;
    }
    if (c.kinds & kRemoved) {
      out += fmt::format("removed  {} ({})\n", shown(c.path), type_name(c.old_info->type));
      continue;
    }
    std::string what;
    for (Kind k : kAllKinds) {
      if ((c.kinds & k) == 0) continue;
      if (!what.empty()) what += ", ";
      what += detail(c, k);
    }
    out += fmt::format("changed  {}: {}\n", shown(c.path), what);
  }
  return out;
}

nlohmann::json to_json(const Diff& d) {
  nlohmann::json j;
  j["format"] = "goodcop-diff";
  j["version"] = 1;
  j["clean"] = d.clean();
  j["counts"] = {{"added", d.added}, {"removed", d.removed}, {"changed", d.changed}};
  j["truncated"] = d.truncated;
  j["limit"] = d.limit.empty() ? nlohmann::json(nullptr) : nlohmann::json(d.limit);
  nlohmann::json changes = nlohmann::json::array();
  for (const Change& c : d.changes) {
    nlohmann::json cj;
    cj["path"] = shown(c.path);
    nlohmann::json kinds = nlohmann::json::array();
    for (Kind k : kAllKinds)
      if (c.kinds & k) kinds.push_back(kind_name(k));
    cj["kinds"] = kinds;
    cj["old"] = c.old_info ? entry_json(*c.old_info) : nlohmann::json(nullptr);
    cj["new"] = c.new_info ? entry_json(*c.new_info) : nlohmann::json(nullptr);
    if (!c.note.empty()) cj["note"] = c.note;
    changes.push_back(std::move(cj));
  }
  j["changes"] = std::move(changes);
  j["stats"] = {{"entries", d.entries}, {"files_hashed", d.files_hashed}, {"bytes_hashed", d.bytes_hashed}};
  return j;
}

}  // namespace goodcop::integrity
