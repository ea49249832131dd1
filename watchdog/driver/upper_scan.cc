#include "watchdog/driver/upper_scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>
#include <vector>

#include "base/fd.h"

namespace goodcop::driver {
namespace {

// overlayfs marks (overlayfs(5)): opaque hides the lower directory's entries, redirect
// makes the directory show another lower directory. Either changes what the merged tree
// holds below it without a file in upper saying so.
bool reshapes_lower(int upper_dir_fd) {
  for (const char* name : {"trusted.overlay.opaque", "trusted.overlay.redirect",
                           "user.overlay.opaque", "user.overlay.redirect"}) {
    if (::fgetxattr(upper_dir_fd, name, nullptr, 0) >= 0) return true;
    if (errno != ENODATA && errno != ENOTSUP && errno != EOPNOTSUPP) return true;
  }
  return false;
}

// The merged directory as the baseline recorded it (the manifest's ids are the host's view
// of the merged tree, as here). Directory mtimes are not compared by verify either: they
// move whenever an ignored entry comes or goes.
bool same_dir(int merged_dir_fd, const integrity::Entry* e) {
  if (e == nullptr || e->type != integrity::EntryType::kDir || e->extra != integrity::Entry::kNoExtra)
    return false;
  struct stat st {};
  if (::fstat(merged_dir_fd, &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  if ((st.st_mode & 07777) != e->mode || st.st_uid != e->uid || st.st_gid != e->gid) return false;
  // The baseline holds no xattrs for it; one appearing is a change the walk would report.
  return ::fgetxattr(merged_dir_fd, "security.capability", nullptr, 0) < 0 && errno == ENODATA;
}

class Scan {
 public:
  Scan(const integrity::Manifest& m, const integrity::IgnoreSet& ig, size_t max)
      : m_(m), ignore_(ig), left_(max) {}

  // The directory `rel` (upper_fd, merged_fd both open on it) and what is below it.
  bool clean(int upper_fd, int merged_fd, const std::string& rel) {
    if (reshapes_lower(upper_fd) || !same_dir(merged_fd, m_.find(rel))) return false;
    int dup = ::fcntl(upper_fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return false;
    DIR* d = ::fdopendir(dup);
    if (d == nullptr) {
      ::close(dup);
      return false;
    }
    bool ok = true;
    while (ok) {
      errno = 0;
      dirent* de = ::readdir(d);
      if (de == nullptr) {
        ok = errno == 0;
        break;
      }
      std::string_view name = de->d_name;
      if (name == "." || name == "..") continue;
      if (left_ == 0) {
        ok = false;
        break;
      }
      --left_;
      std::string child = rel.empty() ? std::string(name) : rel + "/" + std::string(name);
      if (ignore_.matches(child)) continue;  // ignored, and all of it below
      // Only a directory can be an unchanged copy-up; never follow a symlink (the jail
      // writes upper and can race us), never leave the filesystem.
      int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
      int u = ::openat(upper_fd, de->d_name, flags);
      if (u < 0) {
        ok = false;
        break;
      }
      UniqueFd ufd(u);
      int mfd = ::openat(merged_fd, de->d_name, flags);
      if (mfd < 0) {
        ok = false;
        break;
      }
      UniqueFd merged(mfd);
      ok = clean(ufd.get(), merged.get(), child);
    }
    ::closedir(d);
    return ok;
  }

 private:
  const integrity::Manifest& m_;
  const integrity::IgnoreSet& ignore_;
  size_t left_;
};

}  // namespace

UpperVerdict scan_upper(int upper_fd, int merged_fd, const integrity::Manifest& baseline,
                        const integrity::IgnoreSet& ignore, size_t max_entries) {
  Scan s(baseline, ignore, max_entries);
  return s.clean(upper_fd, merged_fd, "") ? UpperVerdict::kClean : UpperVerdict::kLook;
}

bool upper_accounts_for(int upper_fd, const std::string& rel) {
  if (rel.empty()) return true;  // the merged root is upper's root
  int dup = ::fcntl(upper_fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return false;
  UniqueFd dir(dup);
  size_t from = 0;
  while (true) {
    size_t slash = rel.find('/', from);
    std::string name = rel.substr(from, slash == std::string::npos ? std::string::npos : slash - from);
    if (name.empty() || name == "." || name == "..") return false;
    struct stat st {};
    if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
    if (slash == std::string::npos) return true;  // upper holds the path itself
    // A whiteout, file or symlink in upper replaces all the lower has below it.
    if (!S_ISDIR(st.st_mode)) return true;
    // The jail writes upper and may race us: never follow a symlink.
    int next = ::openat(dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) return false;
    dir = UniqueFd(next);
    if (reshapes_lower(dir.get())) return true;
    from = slash + 1;
  }
}

}  // namespace goodcop::driver
