// `goodcop daemon --policies DIR [--state DIR] [--socket PATH] [--events FILE]`:
// runs the supervisor (watchdog/daemon/daemon.h) until SIGTERM.
#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <iostream>

#include "base/error.h"
#include "base/log.h"
#include "watchdog/cli.h"
#include "watchdog/daemon/daemon.h"
#include "watchdog/driver/policy_source.h"

namespace goodcop::cli {
namespace {

struct DaemonFlags {
  std::string policies;
  supervisor::DaemonOptions opt;
};

// The policy files of the directory, sorted; throws SysError when it cannot be read.
std::vector<std::string> policy_files(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) throw SysError("policy directory", dir, errno);
  std::vector<std::string> out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    auto ends = [&](const std::string& s) {
      return n.size() > s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0;
    };
    if (ends(".yaml") || ends(".yml")) out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Verb add_daemon_verb(CLI::App& root) {
  auto flags = std::make_shared<DaemonFlags>();
  Verb v;
  v.app =
      root.add_subcommand("daemon", "run the supervisor: watch, heal and serve the control socket");
  v.app
      ->add_option("--policies", flags->policies,
                   "directory of jail policies (one YAML file per jail)")
      ->required();
  v.app->add_option("--state", flags->opt.state_dir, "state directory")->capture_default_str();
  v.app->add_option("--socket", flags->opt.socket, "control socket path")->capture_default_str();
  v.app->add_option("--events", flags->opt.event_log, "event log (default: STATE/events.log)");
  v.run = [flags] {
    std::vector<std::string> files;
    try {
      files = policy_files(flags->policies);
    } catch (const SysError& e) {
      std::cerr << "goodcop: daemon: " << e.what() << "\n";
      return kExitUsage;
    }
    // The one policy source (supervisor.h PolicySource), asked at start and on reload:
    // every valid policy becomes a jail run by the real driver (watchdog/driver/).
    flags->opt.state_dir = std::filesystem::absolute(flags->opt.state_dir).lexically_normal();
    auto source = [flags] {
      return driver::load_policy_set(flags->policies, flags->opt.state_dir);
    };
    return supervisor::run_daemon(flags->opt, source);
  };
  return v;
}

}  // namespace goodcop::cli
