// `goodcop jail`: placeholder until its layer lands.
#include <iostream>

#include "watchdog/cli.h"

namespace goodcop::cli {

Verb add_jail_verb(CLI::App& root) {
  Verb v;
  v.app = root.add_subcommand("jail", "(not built yet)");
  v.app->allow_extras();
  v.run = [] {
    std::cerr << "goodcop: jail: not built yet\n";
    return kExitFailure;
  };
  return v;
}

}  // namespace goodcop::cli
