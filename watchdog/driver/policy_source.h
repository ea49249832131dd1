#pragma once
// The daemon's policy source (supervisor.h PolicySource): the policy directory read and
// checked as `goodcop policy check DIR` does, each valid policy turned into a jail the
// supervisor can run with a PolicyDriver.

#include <string>

#include "watchdog/daemon/supervisor.h"

namespace goodcop::driver {

// Reads `dir`. A broken file is a problem (its diagnostics, one line each) and its jail
// keeps its old policy; throws Error when the directory itself cannot be read.
supervisor::PolicySet load_policy_set(const std::string& dir, const std::string& state_dir);

}  // namespace goodcop::driver
