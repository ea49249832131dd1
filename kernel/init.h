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

// Once the command is gone: kills every other process of the jail (kill(-1, SIGKILL) from pid 1
// of a PID namespace reaches every process of the namespace but itself, pid_namespaces(7);
// needs CAP_KILL for processes of other uids) and reaps until the init has no child left
// (ECHILD). Every process of the jail descends from the init, and the kernel re-parents a
// dying process's children to the init before the dying one can be reaped, so none is left
// then (processes that joined through setns(2) are killed but not waited for: not our
// children). A fork racing the kill fails (copy_process re-checks fatal signals under the
// tasklist lock the kill holds).
void kill_and_reap_all();

}  // namespace goodcop::kernel
