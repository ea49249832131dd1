#pragma once
// The daemon's wiring: one io_context, one work pool, a signal_set for TERM/INT
// (stop every jail, then exit) and HUP (reload), the control socket and the
// supervisor. No singletons: run_daemon() owns every part for the daemon's lifetime.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "watchdog/daemon/supervisor.h"

namespace goodcop::supervisor {

struct DaemonOptions {
  std::string state_dir = "/var/lib/goodcop";
  std::string socket = "/run/goodcop/control.sock";
  std::string event_log;      // "" = <state_dir>/events.log
  unsigned pool_threads = 0;  // 0 = hardware concurrency (at least 2)
  uid_t control_uid = 0;      // who may use the control socket (root)
  unsigned max_execs = 16;    // concurrent `goodcop exec` commands
  std::string metrics;        // Prometheus textfile, "" = <state_dir>/metrics.prom
};

// Runs the daemon until SIGTERM/SIGINT; returns the exit code (0 after a clean stop).
// `source` is asked for the policies once the control socket's lock is held (start) and
// on every SIGHUP or `goodcop reload`, always on the loop thread.
// Throws Error before the loop runs (lock held by another daemon, bad state dir).
// Prints "daemon ready: control socket '<path>'" (info) once it accepts requests.
int run_daemon(const DaemonOptions& opt, PolicySource source);

}  // namespace goodcop::supervisor
