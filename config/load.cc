// Loading policies from the filesystem: StrictModes on the opened fds, size caps,
// and the directory as the daemon sees it.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "base/fd.h"
#include "config/policy.h"
#include "config/schema.h"
#include "config/yaml_guard.h"

namespace goodcop::config {

Location Policy::at(std::string_view key) const {
  if (auto it = locations.find(key); it != locations.end()) return it->second;
  if (auto it = locations.find("name"); it != locations.end()) return it->second;
  return {1, 1};
}

std::string Address::addr_str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

std::string Address::str() const { return addr_str() + "/" + std::to_string(prefix); }

bool DirResult::ok() const {
  return diags.empty() &&
         std::all_of(files.begin(), files.end(), [](const FileResult& f) { return f.ok(); });
}

FileResult parse_policy(std::string_view text, const std::string& file) {
  FileResult r;
  r.file = file;
  YamlDoc doc = parse_yaml(text, file);
  r.diags = std::move(doc.diags);
  if (!doc.root) return r;
  Policy p;
  p.file = file;
  apply_schema(*doc.root, p, r.diags);
  finish_policy(p, r.diags);
  // Report in reading order, however the checks found them.
  std::stable_sort(r.diags.begin(), r.diags.end(), [](const Diag& a, const Diag& b) {
    return std::pair(a.at.line, a.at.column) < std::pair(b.at.line, b.at.column);
  });
  if (r.diags.empty()) r.policy = std::move(p);
  return r;
}

namespace {

std::string mode_str(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

// StrictModes for one opened file or directory: owned by root, not writable by group
// or others. A sticky root-owned directory (/tmp) is fine as an ancestor: others may
// create entries in it but not rename or remove ours (the sticky bit, inode(7)).
void check_owner(const struct stat& st, const std::string& name, bool ancestor,
                 std::vector<Diag>& out) {
  if (st.st_uid != 0)
    out.push_back(
        {name, {}, "owned by uid " + std::to_string(st.st_uid) + ", must be owned by root"});
  bool sticky_ok = ancestor && S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX);
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !sticky_ok)
    out.push_back(
        {name, {}, "writable by group or others (mode " + mode_str(st.st_mode) + "), must not be"});
}

// Checks a directory and every ancestor up to "/", walking ".." from the opened fd so
// the check is of the directories actually in use. A policy directory below a
// user-owned one could be renamed and replaced by that user, as sshd's StrictModes knows.
void check_dir_chain(int dirfd, const std::string& shown, std::vector<Diag>& out) {
  struct stat st = fstat_fd(dirfd, shown);
  check_owner(st, shown, false, out);
  char real[PATH_MAX];
  std::string name = ::realpath(shown.c_str(), real) ? real : shown;
  UniqueFd cur(::fcntl(dirfd, F_DUPFD_CLOEXEC, 0));
  if (!cur) return;
  for (int depth = 0; depth < 256; ++depth) {
    UniqueFd parent(::openat(cur.get(), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!parent) return;
    struct stat pst = fstat_fd(parent.get(), "..");
    if (pst.st_dev == st.st_dev && pst.st_ino == st.st_ino) return;  // reached "/"
    auto slash = name.rfind('/');
    name = slash == 0 || slash == std::string::npos ? "/" : name.substr(0, slash);
    check_owner(pst, name, true, out);
    st = pst;
    cur = std::move(parent);
  }
}

// Opens `base` below `dirfd` without following a symlink, checks it, and parses it.
FileResult load_at(int dirfd, const std::string& base, const std::string& shown,
                   const LoadOptions& opts) {
  FileResult r;
  r.file = shown;
  int fd = ::openat(dirfd, base.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    // O_NOFOLLOW fails with ELOOP on a symlink: whoever can plant one would choose our policy.
    r.diags.push_back({shown,
                       {},
                       err == ELOOP ? "is a symbolic link, refusing to follow it"
                                    : "cannot open: " + std::string(std::strerror(err))});
    return r;
  }
  UniqueFd file(fd);
  struct stat st = fstat_fd(file.get(), shown);
  if (!S_ISREG(st.st_mode)) {
    r.diags.push_back({shown, {}, "not a regular file"});
    return r;
  }
  if (opts.strict_modes) check_owner(st, shown, false, r.diags);
  if (st.st_size > static_cast<off_t>(kMaxPolicyBytes)) {
    r.diags.push_back({shown,
                       {},
                       "file is larger than 1M (" + std::to_string(st.st_size) +
                           " bytes), refusing to parse it"});
    return r;
  }
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(file.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      r.diags.push_back({shown, {}, "cannot read: " + std::string(std::strerror(errno))});
      return r;
    }
    if (n == 0) break;
    // The file may grow after fstat: the cap holds on what is read, too.
    if (text.size() + static_cast<size_t>(n) > kMaxPolicyBytes) {
      r.diags.push_back({shown, {}, "file is larger than 1M, refusing to parse it"});
      return r;
    }
    text.append(buf, static_cast<size_t>(n));
  }
  FileResult parsed = parse_policy(text, shown);
  for (Diag& d : parsed.diags) r.diags.push_back(std::move(d));
  if (r.diags.empty()) r.policy = std::move(parsed.policy);
  return r;
}

bool policy_name(const std::string& n) {
  auto ends = [&](std::string_view suf) {
    return n.size() > suf.size() && n.compare(n.size() - suf.size(), suf.size(), suf) == 0;
  };
  return !n.empty() && n[0] != '.' && (ends(".yaml") || ends(".yml"));
}

}  // namespace

FileResult load_policy_file(const std::string& path, const LoadOptions& opts) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  FileResult r;
  r.file = path;
  if (base.empty()) {
    r.diags.push_back({path, {}, "not a regular file"});
    return r;
  }
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    r.diags.push_back({path, {}, "cannot open: " + std::string(std::strerror(errno))});
    return r;
  }
  UniqueFd dirfd(fd);
  r = load_at(dirfd.get(), base, path, opts);
  if (opts.strict_modes) {
    std::vector<Diag> dir_diags;
    check_dir_chain(dirfd.get(), dir, dir_diags);
    if (!dir_diags.empty()) {
      r.policy.reset();
      r.diags.insert(r.diags.begin(), dir_diags.begin(), dir_diags.end());
    }
  }
  return r;
}

DirResult load_policy_dir(const std::string& dir, const LoadOptions& opts) {
  DirResult r;
  r.dir = dir;
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    r.diags.push_back({dir, {}, "cannot open directory: " + std::string(std::strerror(errno))});
    return r;
  }
  UniqueFd dirfd(fd);
  if (opts.strict_modes) check_dir_chain(dirfd.get(), dir, r.diags);

  std::vector<std::string> names;
  {
    // fdopendir takes ownership of its fd: give it a duplicate.
    int dup = ::fcntl(dirfd.get(), F_DUPFD_CLOEXEC, 0);
    if (dup < 0) {
      r.diags.push_back({dir, {}, "cannot read directory: " + std::string(std::strerror(errno))});
      return r;
    }
    DIR* d = ::fdopendir(dup);
    if (!d) {
      ::close(dup);
      r.diags.push_back({dir, {}, "cannot read directory: " + std::string(std::strerror(errno))});
      return r;
    }
    while (struct dirent* e = ::readdir(d))
      if (policy_name(e->d_name)) names.emplace_back(e->d_name);
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  std::string prefix = dir.empty() || dir.back() == '/' ? dir : dir + "/";
  for (const std::string& n : names) r.files.push_back(load_at(dirfd.get(), n, prefix + n, opts));
  cross_check(r.files);
  return r;
}

}  // namespace goodcop::config
