#pragma once
// From a validated policy (config/) to what the layers below take: the kernel's JailSpec,
// the supervisor's JailConfig and the paths of a jail's storage. Pure functions apart
// from reading the jail's /etc/passwd for a user name, so the mapping is tested alone.

#include <string>
#include <vector>

#include "config/policy.h"
#include "kernel/jail.h"
#include "watchdog/daemon/jail_task.h"

namespace goodcop::driver {

// Where one jail's state lives below the daemon's state directory.
struct JailPaths {
  std::string dir;     // <state>/jails/<name>           (0700)
  std::string data;    // <dir>/data: one directory per `keep` path, bind-mounted
  std::string output;  // <dir>/output.log: the jail's stdout and stderr
  std::string lower;   // <state>/lower: verified golden trees, one per archive digest
};
JailPaths jail_paths(const std::string& state_dir, const std::string& name);

// The supervisor's view of the policy (interval, on_tamper, restart backoff).
supervisor::JailConfig jail_config(const config::Policy& p);

// The globs a check ignores: watch.ignore, and every `keep` path with what is below it
// (their data lives outside the tree). Relative to the tree root, as integrity/ takes them.
std::vector<std::string> check_ignores(const config::Policy& p);

// The JailSpec for the policy; `null_fd` (/dev/null) becomes the jail's stdin and
// `output_fd` its stdout and stderr.
// Throws Error for what the policy checker cannot know (a user name missing in the jail).
kernel::JailSpec jail_spec(const config::Policy& p, const JailPaths& paths, int null_fd, int output_fd);

// The normalized policy text: two policies with the same fingerprint run the same jail.
std::string fingerprint(const config::Policy& p);

}  // namespace goodcop::driver
