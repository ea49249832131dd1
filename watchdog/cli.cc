#include "watchdog/cli.h"

#include <vector>

namespace goodcop::cli {

int run_cli(int argc, char** argv) {
  auto app = make_root();
  std::vector<Verb> verbs;
  verbs.push_back(add_policy_verb(*app));
  verbs.push_back(add_jail_verb(*app));
  verbs.push_back(add_manifest_verb(*app));
  verbs.push_back(add_seal_verb(*app));
  verbs.push_back(add_restore_verb(*app));
  verbs.push_back(add_evidence_verb(*app));
  verbs.push_back(add_daemon_verb(*app));
  for (Verb& v : add_control_verbs(*app)) verbs.push_back(std::move(v));
  return parse_and_run(*app, verbs, argc, argv);
}

}  // namespace goodcop::cli
