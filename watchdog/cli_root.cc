// The root command and the parse-and-run step, shared by both binaries: goodcop-core's
// run_cli (every verb) and the goodcop front's run_jail_cli (the jail verb alone).
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/version.h"
#include "watchdog/cli.h"

namespace goodcop::cli {

namespace {
constexpr const char* kDescription = "goodcop: self-healing FreeBSD-style jails for Linux";
}  // namespace

std::unique_ptr<CLI::App> make_root() {
  auto app = std::make_unique<CLI::App>(kDescription, "goodcop");
  app->set_version_flag("--version", std::string("goodcop ") + kVersion);
  app->require_subcommand(1);
  app->fallthrough(false);
  return app;
}

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

}  // namespace goodcop::cli
