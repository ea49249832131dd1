// goodcop-core: every verb of goodcop (watchdog/cli.h). Users run `goodcop`, the small front
// next to it (front_main.cc), which runs `goodcop jail` itself and execs this binary, with
// the same argv, for everything else.
#include "backups/spawn.h"
#include "kernel/jail.h"
#include "watchdog/cli.h"

int main(int argc, char** argv) {
  // First, before anything starts a thread: the jail setup modes (kernel/jail.h) and the
  // spawn modes of backups/ (which exec /proc/self/exe, this binary).
  if (auto rc = goodcop::kernel::run_internal_mode(argc, argv)) return *rc;
  if (auto rc = goodcop::backups::run_internal_mode(argc, argv)) return *rc;
  return goodcop::cli::run_cli(argc, argv);
}
