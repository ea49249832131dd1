// goodcop: one binary, many verbs (watchdog/cli.h).
#include "backups/spawn.h"
#include "kernel/jail.h"
#include "watchdog/cli.h"

int main(int argc, char** argv) {
  // First, before anything starts a thread: the jail setup modes (kernel/jail.h).
  if (auto rc = goodcop::kernel::run_internal_mode(argc, argv)) return *rc;
  if (auto rc = goodcop::backups::run_internal_mode(argc, argv)) return *rc;
  return goodcop::cli::run_cli(argc, argv);
}
