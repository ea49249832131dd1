// INTERIM: until integrity/ publishes its manifest API, a minimal manifest of our
// own (JSON, one object per path) so that seal/restore can be built and tested.
// Replaced by calls into integrity/ as soon as its headers are committed.
#include "backups/manifest_glue.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "backups/archive.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/scope_exit.h"

namespace goodcop::backups {
namespace {

char type_of_mode(mode_t m) {
  if (S_ISREG(m)) return 'f';
  if (S_ISDIR(m)) return 'd';
  if (S_ISLNK(m)) return 'l';
  if (S_ISCHR(m)) return 'c';
  if (S_ISBLK(m)) return 'b';
  if (S_ISFIFO(m)) return 'p';
  return 's';
}

void walk(int dfd, const std::string& rel, dev_t dev, ExpectedTree& out) {
  DIR* dp = ::fdopendir(check(::dup(dfd), "dup", rel));
  if (dp == nullptr) throw SysError("fdopendir", rel, errno);
  ScopeExit close_dir([&] { ::closedir(dp); });
  while (dirent* de = ::readdir(dp)) {
    std::string name = de->d_name;
    if (name == "." || name == "..") continue;
    std::string path = rel == "." ? name : rel + "/" + name;
    struct stat st {};
    check(::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW), "fstatat", path);
    ExpectedEntry x;
    x.type = type_of_mode(st.st_mode);
    x.mode = st.st_mode & 07777;
    x.uid = st.st_uid;
    x.gid = st.st_gid;
    if (x.type == 'f') {
      x.size = static_cast<uint64_t>(st.st_size);
      UniqueFd f = openat_fd(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
      x.sha256 = sha256_fd(f.get(), path);
    } else if (x.type == 'l') {
      char buf[4096];
      ssize_t n = check(::readlinkat(dfd, name.c_str(), buf, sizeof buf), "readlinkat", path);
      x.link.assign(buf, static_cast<size_t>(n));
    } else if (x.type == 'c' || x.type == 'b') {
      x.rdev = st.st_rdev;
    }
    out[path] = x;
    if (x.type == 'd' && st.st_dev == dev) {
      UniqueFd sub = open_dir_beneath(dfd, name);
      walk(sub.get(), path, dev, out);
    }
  }
}

}  // namespace

TreeManifest build_tree_manifest(const std::string& dir) {
  TreeManifest m;
  UniqueFd d = open_fd(dir, O_RDONLY | O_DIRECTORY);
  struct stat st = fstat_fd(d.get(), dir);
  ExpectedEntry root{'d', st.st_mode & 07777, st.st_uid, st.st_gid, 0, "", "", 0};
  m.expected["."] = root;
  walk(d.get(), ".", st.st_dev, m.expected);
  nlohmann::json j = nlohmann::json::array();
  for (const auto& [p, x] : m.expected) {
    j.push_back({{"path", p}, {"type", std::string(1, x.type)}, {"mode", x.mode}, {"uid", x.uid},
                 {"gid", x.gid}, {"size", x.size}, {"sha256", x.sha256}, {"link", x.link},
                 {"rdev", x.rdev}});
  }
  m.text = j.dump(1) + "\n";
  return m;
}

TreeManifest parse_tree_manifest(std::string_view text) {
  TreeManifest m;
  m.text = std::string(text);
  try {
    for (const auto& o : nlohmann::json::parse(text)) {
      ExpectedEntry x;
      x.type = o.at("type").get<std::string>().at(0);
      x.mode = o.at("mode").get<uint32_t>();
      x.uid = o.at("uid").get<uint32_t>();
      x.gid = o.at("gid").get<uint32_t>();
      x.size = o.at("size").get<uint64_t>();
      x.sha256 = o.at("sha256").get<std::string>();
      x.link = o.at("link").get<std::string>();
      x.rdev = o.at("rdev").get<uint64_t>();
      m.expected[o.at("path").get<std::string>()] = x;
    }
  } catch (const std::exception& e) {
    throw Error(std::string("manifest: invalid: ") + e.what());
  }
  return m;
}

TreeCheck verify_tree(const std::string& dir, const TreeManifest& manifest) {
  TreeManifest now = build_tree_manifest(dir);
  nlohmann::json added = nlohmann::json::array(), removed = nlohmann::json::array(),
                 changed = nlohmann::json::array();
  for (const auto& [p, x] : manifest.expected) {
    auto it = now.expected.find(p);
    if (it == now.expected.end()) {
      removed.push_back(p);
      continue;
    }
    const ExpectedEntry& y = it->second;
    if (x.type != y.type || x.mode != y.mode || x.uid != y.uid || x.gid != y.gid ||
        x.size != y.size || x.sha256 != y.sha256 || x.link != y.link || x.rdev != y.rdev)
      changed.push_back(p);
  }
  for (const auto& [p, y] : now.expected) {
    if (!manifest.expected.count(p)) added.push_back(p);
  }
  TreeCheck c;
  c.clean = added.empty() && removed.empty() && changed.empty();
  c.diff_json = nlohmann::json{{"added", added}, {"removed", removed}, {"changed", changed}}.dump();
  return c;
}

}  // namespace goodcop::backups
