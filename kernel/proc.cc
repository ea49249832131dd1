#include "kernel/proc.h"

#include <dirent.h>
#include <sys/stat.h>

#include <string>

#include "base/error.h"
#include "base/parse.h"
#include "base/scope_exit.h"

namespace goodcop::kernel {

std::vector<pid_t> pids_in_pid_namespace_of(pid_t init) {
  struct stat ns {};
  const std::string init_ns = "/proc/" + std::to_string(init) + "/ns/pid";
  check(::stat(init_ns.c_str(), &ns), "stat", init_ns);
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) check(-1, "opendir", "/proc");
  ScopeExit close_dir([&] { ::closedir(dir); });
  std::vector<pid_t> out;
  while (dirent* e = ::readdir(dir)) {
    auto pid = parse_uint(e->d_name, 1, 4194304);
    if (!pid) continue;
    struct stat st {};
    const std::string path = std::string("/proc/") + e->d_name + "/ns/pid";
    // A process that exits meanwhile is simply not listed.
    if (::stat(path.c_str(), &st) != 0) continue;
    if (st.st_ino == ns.st_ino && st.st_dev == ns.st_dev)
      out.push_back(static_cast<pid_t>(pid.value));
  }
  return out;
}

}  // namespace goodcop::kernel
