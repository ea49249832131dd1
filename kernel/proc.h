#pragma once
// Processes as the host's /proc shows them.

#include <sys/types.h>

#include <vector>

namespace goodcop::kernel {

// Host pids of every process in the pid namespace whose init is `init` (init included).
std::vector<pid_t> pids_in_pid_namespace_of(pid_t init);

}  // namespace goodcop::kernel
