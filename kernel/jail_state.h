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
  std::optional<int> status;  // the init's, once reaped
  // The go socket, on which goodcop's init reports the command's status (wire.h
  // report_status); invalid for InitMode::kJail, an adopted jail, or once read.
  UniqueFd status_sock;
  std::optional<int> command_status;  // what the init reported
  bool released = false;              // Jail::release(): the destructor does nothing
  std::optional<JailCgroup> cgroup;
  std::optional<Veth> veth;
  bool adopted = false;  // init is not our child: wait through the pidfd, status unknown
};

}  // namespace goodcop::kernel
