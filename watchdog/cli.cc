#include "watchdog/cli.h"

#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/version.h"

namespace goodcop::cli {

namespace {

constexpr const char* kDescription = "goodcop: self-healing FreeBSD-style jails for Linux";

void set_up_root(CLI::App& app) {
  app.set_version_flag("--version", std::string("goodcop ") + kVersion);
  app.require_subcommand(1);
  app.fallthrough(false);
}

// Parses argv and runs the verb it names; a parse error or a verb's exception becomes the
// contract's message and exit code.
int parse_and_run(CLI::App& app, const std::vector<Verb>& verbs, int argc, char** argv) {
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

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{kDescription, "goodcop"};
  set_up_root(app);
  std::vector<Verb> verbs;
  verbs.push_back(add_policy_verb(app));
  verbs.push_back(add_jail_verb(app));
  verbs.push_back(add_manifest_verb(app));
  verbs.push_back(add_seal_verb(app));
  verbs.push_back(add_restore_verb(app));
  verbs.push_back(add_evidence_verb(app));
  verbs.push_back(add_daemon_verb(app));
  for (Verb& v : add_control_verbs(app)) verbs.push_back(std::move(v));
  return parse_and_run(app, verbs, argc, argv);
}

// The root command built as run_cli builds it, with the jail verb alone: help, errors and
// exit codes are the same; the other verbs' parsers (a few hundred options) are never built.
int run_jail_cli(int argc, char** argv) {
  CLI::App app{kDescription, "goodcop"};
  set_up_root(app);
  std::vector<Verb> verbs{add_jail_verb(app)};
  return parse_and_run(app, verbs, argc, argv);
}

}  // namespace goodcop::cli
