#include "kernel/userns.h"

#include <fcntl.h>
#include <grp.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "kernel/jail.h"

namespace goodcop::kernel {

uint32_t host_id_base(const JailSpec& spec) {
  if (spec.host_id_base != 0) return spec.host_id_base;
  // FNV-1a of the name picks one of 4096 slots of 65536 ids above 0x10000000.
  uint32_t h = 2166136261u;
  for (unsigned char c : spec.name) h = (h ^ c) * 16777619u;
  return 0x10000000u + (h % 4096u) * 65536u;
}

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

void become_user(uint32_t uid, uint32_t gid, const std::vector<uint32_t>& groups) {
  // setgroups before the uid change, which takes CAP_SETGID with it.
  if (groups.empty()) {
    const gid_t only = gid;
    check(::setgroups(1, &only), "setgroups", std::to_string(gid));
  } else {
    std::vector<gid_t> list(groups.begin(), groups.end());
    check(::setgroups(list.size(), list.data()), "setgroups", std::to_string(gid));
  }
  check(::setresgid(gid, gid, gid), "setresgid", std::to_string(gid));
  check(::setresuid(uid, uid, uid), "setresuid", std::to_string(uid));
}

}  // namespace goodcop::kernel
