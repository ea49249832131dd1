// The control verbs (status, check, ...): placeholder until the supervisor lands.
#include "watchdog/cli.h"

namespace goodcop::cli {

std::vector<Verb> add_control_verbs(CLI::App&) { return {}; }

}  // namespace goodcop::cli
