// goodcop: one binary, many verbs (watchdog/cli.h).
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>

#include "backups/spawn.h"
#include "kernel/jail.h"
#include "watchdog/cli.h"

int main(int argc, char** argv) {
  // First, before anything starts a thread: the jail setup modes (kernel/jail.h).
  if (auto rc = goodcop::kernel::run_internal_mode(argc, argv)) return *rc;
  if (auto rc = goodcop::backups::run_internal_mode(argc, argv)) return *rc;
  // `goodcop jail` is a start-time path (issue 3: no slower than bubblewrap): it skips
  // building every other verb's parser.
  // It also leaves without running static destructors and atexit handlers: they only free
  // memory the kernel takes back anyway, and touching their code faults in pages of this
  // large binary (~0.5 ms between the jail's report and exit_group under perf trace).
  // (Not in the ASan build, whose leak check runs at exit.)
  if (argc >= 2 && std::strcmp(argv[1], "jail") == 0) {
    const int rc = goodcop::cli::run_jail_cli(argc, argv);
#if defined(__SANITIZE_ADDRESS__)
    return rc;
#else
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    ::_exit(rc);
#endif
  }
  return goodcop::cli::run_cli(argc, argv);
}
