#pragma once
// What a Jail owns (internal to kernel/: jail.cc makes it in start(), adopt.cc in adopt()).

#include <sys/types.h>

#include <optional>

#include "base/fd.h"
#include "kernel/cgroup.h"
#include "kernel/jail.h"
#include "kernel/net.h"

namespace goodcop::kernel {

struct JailState {
  JailSpec spec;
  pid_t pid = -1;
  UniqueFd pidfd;
  std::optional<int> status;
  std::optional<JailCgroup> cgroup;
  std::optional<Veth> veth;
  bool adopted = false;  // init is not our child: wait through the pidfd, status unknown
};

}  // namespace goodcop::kernel
