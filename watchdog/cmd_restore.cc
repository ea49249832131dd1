// `goodcop restore`: two forms, told apart by their arguments, never by guessing.
//   goodcop restore ARCHIVE DIR       offline: verify a golden archive, extract it beside DIR
//                                     (in a helper process), verify the result, carry `--keep`
//                                     paths over and swap it in atomically
//   goodcop restore --check ARCHIVE   offline: only verify; `--lower ROOT ARCHIVE` prepares an
//                                     overlay lower tree
//   goodcop restore JAIL              the daemon restores a jail from its golden archive and
//                                     restarts it
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "backups/overlay.h"
#include "backups/restore.h"
#include "base/parse.h"
#include "watchdog/cli.h"
#include "watchdog/daemon/control_server.h"

namespace goodcop::cli {

// watchdog/cmd_control.cc: sends one jail verb to the daemon, prints its answer.
// TODO(lead): declare in watchdog/cli.h.
int run_daemon_jail_verb(const std::string& verb, const std::string& jail,
                         const std::string& socket);

namespace {

// A policy's jail name (config/values.h check_name): [a-z0-9][a-z0-9-]{0,30}. No '/' or
// '.', so a path or an archive name is never mistaken for one.
bool is_jail_name(const std::string& s) {
  if (s.empty() || s.size() > 31 || s[0] == '-') return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

struct RestoreArgs {
  std::string archive, dir, sha256, lower, max_bytes, socket;
  std::vector<std::string> keep;
  bool check = false;
  uint64_t max_entries = 0;
};

}  // namespace

Verb add_restore_verb(CLI::App& root) {
  auto a = std::make_shared<RestoreArgs>();
  Verb v;
  v.app = root.add_subcommand(
      "restore",
      "restore a tree from a golden archive atomically, or have the daemon restore a jail");
  v.app
      ->add_option("ARCHIVE|JAIL", a->archive,
                   "golden archive (checked against ARCHIVE.sha256), or a jail name alone")
      ->required();
  v.app->add_option("DIR", a->dir, "tree to replace (created when missing)");
  v.app->add_option("--keep", a->keep, "path inside DIR carried over untouched (repeatable)");
  v.app->add_option("--sha256", a->sha256, "expected archive digest (instead of ARCHIVE.sha256)");
  v.app->add_flag("--check", a->check, "only verify the archive (exit 1 when damaged)");
  v.app->add_option("--lower", a->lower, "overlay mode: extract into LOWER/<sha256> once");
  v.app->add_option("--max-entries", a->max_entries, "refuse archives with more entries");
  v.app->add_option("--max-bytes", a->max_bytes,
                    "refuse archives expanding beyond this (e.g. 20G)");
  v.app->add_option("--socket", a->socket,
                    "JAIL form: control socket of the daemon (default " +
                        std::string(supervisor::kDefaultSocket) + ")");
  v.app->footer(
      "Forms:\n"
      "  goodcop restore ARCHIVE DIR          restore the tree DIR from ARCHIVE (offline)\n"
      "  goodcop restore --check ARCHIVE      only verify ARCHIVE (offline)\n"
      "  goodcop restore --lower ROOT ARCHIVE extract ARCHIVE once into ROOT/<sha256> (offline)\n"
      "  goodcop restore JAIL [--socket PATH] the running daemon restores JAIL from its golden\n"
      "                                       archive and restarts it");
  CLI::App* app = v.app;
  v.run = [a, app] {
    bool offline = !a->dir.empty() || a->check || !a->lower.empty();
    if (!offline) {
      for (const char* opt : {"--keep", "--sha256", "--max-entries", "--max-bytes"}) {
        if (app->count(opt) > 0) {
          std::cerr << "goodcop: restore: " << opt << " needs DIR (restore ARCHIVE DIR)\n";
          return kExitUsage;
        }
      }
      if (!is_jail_name(a->archive)) {
        std::cerr << "goodcop: restore: '" << a->archive
                  << "' is not a jail name: restore a directory with ARCHIVE DIR\n";
        return kExitUsage;
      }
      return run_daemon_jail_verb("restore", a->archive, a->socket);
    }
    if (app->count("--socket") > 0) {
      std::cerr << "goodcop: restore: --socket applies to the JAIL form only\n";
      return kExitUsage;
    }
    backups::RestoreOptions o;
    o.keep = a->keep;
    o.expected_digest = a->sha256;
    if (a->max_entries > 0) o.limits.max_entries = a->max_entries;
    if (!a->max_bytes.empty()) {
      auto s = parse_size(a->max_bytes);
      if (!s) {
        std::cerr << "goodcop: restore: --max-bytes '" << a->max_bytes << "': " << s.error << "\n";
        return kExitUsage;
      }
      o.limits.max_bytes = s.value;
    }
    if (a->check) {
      try {
        backups::RestoreResult r = backups::verify_archive(a->archive, o);
        std::cout << fmt::format("ok: '{}': sha256 {}, {} entries match the manifest\n", a->archive,
                                 r.archive_sha256, r.entries);
        return kExitOk;
      } catch (const std::exception& e) {
        std::cerr << "goodcop: restore: " << e.what() << "\n";
        return kExitDeviation;
      }
    }
    if (!a->lower.empty()) {
      std::string lower = backups::prepare_lower(a->archive, a->lower, o.limits);
      std::cout << fmt::format("lower tree ready: '{}'\n", lower);
      return kExitOk;
    }
    backups::RestoreResult r = backups::restore_plain(a->archive, a->dir, o);
    std::cout << fmt::format("restored '{}' from '{}': {} entries, sha256 {}{}\n", a->dir,
                             a->archive, r.entries, r.archive_sha256,
                             r.replaced ? "" : " (new tree)");
    return kExitOk;
  };
  return v;
}

}  // namespace goodcop::cli
