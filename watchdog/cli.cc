#include "watchdog/cli.h"

#include <exception>
#include <iostream>
#include <vector>

#include "base/error.h"
#include "base/version.h"

namespace goodcop::cli {

int run_cli(int argc, char** argv) {
  CLI::App app{"goodcop: self-healing FreeBSD-style jails for Linux", "goodcop"};
  app.set_version_flag("--version", std::string("goodcop ") + kVersion);
  app.require_subcommand(1);
  app.fallthrough(false);

  std::vector<Verb> verbs;
  verbs.push_back(add_policy_verb(app));
  verbs.push_back(add_jail_verb(app));
  verbs.push_back(add_manifest_verb(app));
  verbs.push_back(add_seal_verb(app));
  verbs.push_back(add_restore_verb(app));
  verbs.push_back(add_evidence_verb(app));
  verbs.push_back(add_daemon_verb(app));
  for (Verb& v : add_control_verbs(app)) verbs.push_back(std::move(v));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "goodcop: " << e.what() << "\n";
    std::cerr << "Run with --help for more information.\n";
    return kExitUsage;
  }

  for (const Verb& v : verbs) {
    if (!v.app->parsed()) continue;
    try {
      return v.run();
    } catch (const std::exception& e) {
      std::cerr << "goodcop: " << v.app->get_name() << ": " << e.what() << "\n";
      return kExitFailure;
    }
  }
  return kExitUsage;  // unreachable: require_subcommand(1)
}

}  // namespace goodcop::cli
