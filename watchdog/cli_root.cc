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

namespace {

// The verb argv names at a level that has verbs, when it names none: CLI11 would only say
// "A subcommand is required" for `goodcop frobnicate` (or `goodcop manifest frob`).
std::string unknown_verb(const CLI::App& root, int argc, char** argv) {
  const CLI::App* app = &root;
  std::string where;
  for (int i = 1; i < argc && argv[i][0] != '-'; ++i) {
    auto subs = app->get_subcommands([](const CLI::App*) { return true; });
    if (subs.empty()) return {};
    const CLI::App* next = nullptr;
    for (const CLI::App* sub : subs)
      if (sub->check_name(argv[i])) next = sub;
    if (next == nullptr) return where + "unknown verb '" + argv[i] + "'";
    where += next->get_name() + ": ";
    app = next;
  }
  return {};
}

}  // namespace

int parse_and_run(CLI::App& app, const std::vector<Verb>& verbs, int argc, char** argv) {
  if (std::string unknown = unknown_verb(app, argc, argv); !unknown.empty()) {
    std::cerr << "goodcop: " << unknown << "\n";
    std::cerr << "Run with --help for more information.\n";
    return kExitUsage;
  }
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
