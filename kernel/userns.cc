#include "kernel/userns.h"

#include <fcntl.h>
#include <grp.h>
#include <unistd.h>

#include <string>

#include "base/error.h"
#include "base/fd.h"

namespace goodcop::kernel {

void write_id_maps(pid_t pid, uint32_t base) {
  const std::string map = "0 " + std::to_string(base) + " " + std::to_string(kJailIdCount) + "\n";
  for (const char* file : {"uid_map", "gid_map"}) {
    const std::string path = "/proc/" + std::to_string(pid) + "/" + file;
    UniqueFd fd = open_fd(path, O_WRONLY);
    // The kernel takes a map in exactly one write(2).
    ssize_t n = ::write(fd.get(), map.data(), map.size());
    check(n, "write", path);
  }
}

void become_jail_root() { become_user(0, 0); }

void become_user(uint32_t uid, uint32_t gid) {
  check(::setgroups(0, nullptr), "setgroups");
  check(::setresgid(gid, gid, gid), "setresgid", std::to_string(gid));
  check(::setresuid(uid, uid, uid), "setresuid", std::to_string(uid));
}

}  // namespace goodcop::kernel
