// goodcop: one binary, many verbs (watchdog/cli.h).
#include <cstring>

#include "backups/spawn.h"
#include "kernel/jail.h"
#include "watchdog/cli.h"

int main(int argc, char** argv) {
  // First, before anything starts a thread: the jail setup modes (kernel/jail.h).
  if (auto rc = goodcop::kernel::run_internal_mode(argc, argv)) return *rc;
  if (auto rc = goodcop::backups::run_internal_mode(argc, argv)) return *rc;
  // `goodcop jail` is a start-time path (issue 3: no slower than bubblewrap): it skips
  // building every other verb's parser.
  if (argc >= 2 && std::strcmp(argv[1], "jail") == 0) return goodcop::cli::run_jail_cli(argc, argv);
  return goodcop::cli::run_cli(argc, argv);
}
