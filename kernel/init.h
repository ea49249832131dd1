#pragma once
// goodcop's tiny init, pid 1 inside a jail: reaps orphans (otherwise zombies pile up
// in the jail's pid namespace), forwards SIGTERM/SIGINT/SIGHUP to the command, copies
// the console to its stderr, and exits with the command's status once it is gone.

#include <signal.h>
#include <sys/types.h>

namespace goodcop::kernel {

// The signals init handles. Blocked (and given a no-op handler, because the kernel drops
// signals to a pid-namespace init that has no handler for them) before the command is
// forked, so none is lost; the command unblocks them before exec.
sigset_t init_signals();
void prepare_init_signals();
void restore_child_signals();

// Runs the init loop until `command` exits; returns its exit code (128+N on signal N).
// console_master: the master side of /dev/console, or -1.
int run_init(pid_t command, int console_master);

}  // namespace goodcop::kernel
