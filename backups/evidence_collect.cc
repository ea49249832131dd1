#include "backups/evidence_collect.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "backups/extract.h"
#include "backups/fsops.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/scope_exit.h"

namespace goodcop::backups {
namespace {

char type_of(mode_t m) {
  if (S_ISREG(m)) return 'f';
  if (S_ISDIR(m)) return 'd';
  if (S_ISLNK(m)) return 'l';
  if (S_ISCHR(m)) return 'c';
  if (S_ISBLK(m)) return 'b';
  if (S_ISFIFO(m)) return 'p';
  return 's';
}

class Collector {
 public:
  Collector(int root, const CollectLimits& l) : root_(root), limits_(l) {}

  void one(const std::string& rel, bool recurse) {
    if (out.size() >= limits_.max_files) {
      truncated_count_++;
      return;
    }
    CollectedFile f;
    f.path = rel;
    std::string parent = parent_dir(rel), name = base_name(rel);
    UniqueFd dir;
    try {
      dir = parent == "." ? UniqueFd(check(::fcntl(root_, F_DUPFD_CLOEXEC, 0), "dup", rel))
                          : open_beneath(root_, parent, O_RDONLY | O_DIRECTORY);
    } catch (const SysError& e) {
      f.note = e.code() == ENOENT ? "absent" : "not collected: " + std::string(e.what());
      out.push_back(std::move(f));
      return;
    }
    struct stat st {};
    if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
      f.note = errno == ENOENT ? "absent" : "not collected: " + std::string(SysError("fstatat", rel, errno).what());
      out.push_back(std::move(f));
      return;
    }
    fill_meta(f, st);
    if (f.type == 'l') {
      char buf[4096];
      ssize_t n = ::readlinkat(dir.get(), name.c_str(), buf, sizeof buf);
      if (n >= 0) f.link.assign(buf, static_cast<size_t>(n));
    } else if (f.type == 'f') {
      read_regular(dir.get(), name, st, f);
    }
    bool is_dir = f.type == 'd';
    out.push_back(std::move(f));
    if (is_dir && recurse) {
      UniqueFd sub;
      try {
        sub = openat_fd(dir.get(), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      } catch (const SysError&) {
        return;
      }
      if (fstat_fd(sub.get()).st_dev != st.st_dev) return;
      for (const auto& n : names(sub.get(), rel)) one(rel == "." ? n : rel + "/" + n, true);
    }
  }

  std::vector<CollectedFile> out;

 private:
  static void fill_meta(CollectedFile& f, const struct stat& st) {
    f.type = type_of(st.st_mode);
    f.mode = st.st_mode & 07777;
    f.uid = st.st_uid;
    f.gid = st.st_gid;
    f.size = static_cast<uint64_t>(st.st_size);
    f.rdev = st.st_rdev;
    f.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  }

  void read_regular(int dir, const std::string& name, const struct stat& st, CollectedFile& f) {
    int fd = ::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
      f.note = "not read: " + std::string(SysError("openat", f.path, errno).what());
      return;
    }
    UniqueFd file(fd);
    struct stat now = fstat_fd(file.get(), f.path);
    if (!S_ISREG(now.st_mode) || now.st_ino != st.st_ino) {
      f.note = "not read: replaced while collecting";
      return;
    }
    uint64_t cap = std::min(limits_.max_file_bytes, limits_.max_total_bytes - std::min(total_, limits_.max_total_bytes));
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(file.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        f.note = "read error: " + std::string(SysError("read", f.path, errno).what());
        break;
      }
      if (n == 0) break;
      size_t take = static_cast<size_t>(n);
      if (f.data.size() + take > cap) {
        take = static_cast<size_t>(cap - f.data.size());
        f.truncated = true;
      }
      f.data.append(buf, take);
      if (f.truncated) break;
    }
    total_ += f.data.size();
  }

  static std::vector<std::string> names(int dirfd, const std::string& what) {
    std::vector<std::string> v;
    DIR* dp = ::fdopendir(check(::fcntl(dirfd, F_DUPFD_CLOEXEC, 0), "dup", what));
    if (dp == nullptr) throw SysError("fdopendir", what, errno);
    ScopeExit close_dir([&] { ::closedir(dp); });
    while (dirent* de = ::readdir(dp)) {
      std::string n = de->d_name;
      if (n != "." && n != "..") v.push_back(std::move(n));
    }
    std::sort(v.begin(), v.end());
    return v;
  }

  int root_;
  CollectLimits limits_;
  uint64_t total_ = 0;
  uint64_t truncated_count_ = 0;
};

}  // namespace

std::vector<CollectedFile> collect_files(const std::string& root,
                                         const std::vector<std::string>& paths, bool whole_tree,
                                         const CollectLimits& limits) {
  UniqueFd r = open_fd(root, O_RDONLY | O_DIRECTORY);
  Collector c(r.get(), limits);
  if (whole_tree) {
    c.one(".", true);
  } else {
    std::vector<std::string> sorted = paths;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    for (const auto& p : sorted) {
      std::string rel = p;
      while (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
      rel = normalize_member_path(rel.empty() ? "." : rel);
      if (rel.empty()) continue;  // "..": never collect outside the tree
      c.one(rel, false);
    }
  }
  return std::move(c.out);
}

nlohmann::json file_json(const CollectedFile& f, const std::string& sha256) {
  nlohmann::json j{{"path", f.path}, {"type", std::string(1, f.type)}, {"mode", f.mode},
                   {"uid", f.uid},   {"gid", f.gid},   {"size", f.size},
                   {"mtime_ns", f.mtime_ns}};
  if (f.type == 'l') j["link"] = f.link;
  if (f.type == 'c' || f.type == 'b') j["rdev"] = f.rdev;
  if (f.type == 'f' && f.note.empty()) {
    j["sha256"] = sha256;
    j["collected_bytes"] = f.data.size();
    j["truncated"] = f.truncated;
  }
  if (!f.note.empty()) j["note"] = f.note;
  return j;
}

}  // namespace goodcop::backups
