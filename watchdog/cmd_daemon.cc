// `goodcop daemon`: placeholder until the supervisor lands.
#include <iostream>

#include "watchdog/cli.h"

namespace goodcop::cli {

Verb add_daemon_verb(CLI::App& root) {
  Verb v;
  v.app = root.add_subcommand("daemon", "(not built yet)");
  v.app->allow_extras();
  v.run = [] {
    std::cerr << "goodcop: daemon: not built yet\n";
    return kExitFailure;
  };
  return v;
}

}  // namespace goodcop::cli
