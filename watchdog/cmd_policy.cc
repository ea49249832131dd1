// `goodcop policy check|show`: validate policy files without running anything.
#include <sys/stat.h>

#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "config/policy.h"
#include "watchdog/cli.h"

namespace goodcop::cli {
namespace {

// A file with hundreds of errors is usually not a policy at all: show the first ones.
constexpr size_t kMaxShown = 50;

struct PolicyOptions {
  std::vector<std::string> paths;
  std::string show_file;
  bool no_strict_modes = false;
};

// Prints one file's outcome: "FILE: OK" on stdout, or each error on stderr.
bool report(const config::FileResult& f) {
  if (f.ok()) {
    std::cout << f.file << ": OK\n";
    return true;
  }
  for (size_t i = 0; i < f.diags.size() && i < kMaxShown; ++i)
    std::cerr << f.diags[i].str() << "\n";
  if (f.diags.size() > kMaxShown)
    std::cerr << "'" << f.file << "': " << f.diags.size() - kMaxShown << " more errors not shown\n";
  return false;
}

int run_check(const PolicyOptions& o) {
  config::LoadOptions lo;
  lo.strict_modes = !o.no_strict_modes;
  bool ok = true;
  for (const std::string& p : o.paths) {
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      config::DirResult d = config::load_policy_dir(p, lo);
      for (const config::Diag& diag : d.diags) std::cerr << diag.str() << "\n";
      if (d.files.empty() && d.diags.empty())
        std::cout << p << ": no policy files (*.yaml, *.yml)\n";
      for (const config::FileResult& f : d.files) ok = report(f) && ok;
      ok = ok && d.diags.empty();
    } else {
      ok = report(config::load_policy_file(p, lo)) && ok;
    }
  }
  return ok ? kExitOk : kExitUsage;
}

int run_show(const PolicyOptions& o) {
  config::LoadOptions lo;
  lo.strict_modes = !o.no_strict_modes;
  config::FileResult f = config::load_policy_file(o.show_file, lo);
  if (!f.ok()) {
    report(f);
    return kExitUsage;
  }
  std::cout << config::format_policy(*f.policy);
  return kExitOk;
}

}  // namespace

Verb add_policy_verb(CLI::App& root) {
  auto opts = std::make_shared<PolicyOptions>();
  Verb v;
  v.app = root.add_subcommand("policy", "Validate and show jail policy files (docs/policy.md)");
  v.app->require_subcommand(1);

  CLI::App* check = v.app->add_subcommand(
      "check", "Validate policy files or directories without running anything");
  check->footer(
      "A FILE is checked alone. A DIR is checked as the daemon loads it: its *.yaml and *.yml\n"
      "files (names starting with '.' are skipped), each alone and then against each other\n"
      "(names, jail paths, addresses, evidence directories, bind mounts).\n"
      "Prints 'FILE: OK' on stdout for each valid file, or each problem on stderr as\n"
      "'FILE:LINE:COL: message'. Exit status: 0 when all are valid, 2 otherwise.\n"
      "Every key is described in docs/policy.md.");
  check->add_option("paths", opts->paths, "Policy files or directories")->required();
  check->add_flag("--no-strict-modes", opts->no_strict_modes,
                  "Skip the ownership and mode checks (root-owned, not group/other-writable "
                  "file, directory and ancestors), to validate a draft; the daemon never skips "
                  "them");

  CLI::App* show = v.app->add_subcommand(
      "show",
      "Print a valid policy normalized, with every default written out (exit 0), or "
      "its errors (exit 2)");
  show->add_option("file", opts->show_file, "Policy file")->required();
  show->add_flag("--no-strict-modes", opts->no_strict_modes, "Skip the ownership and mode checks");

  v.run = [opts, check, show] {
    if (check->parsed()) return run_check(*opts);
    if (show->parsed()) return run_show(*opts);
    return kExitUsage;
  };
  return v;
}

}  // namespace goodcop::cli
