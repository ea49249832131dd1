// `goodcop restore ARCHIVE DIR`: verify a golden archive, extract it beside DIR
// (in a helper process), verify the result, carry `--keep` paths over and swap it
// in atomically. `--check` only verifies; `--lower ROOT` prepares an overlay lower tree.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "backups/overlay.h"
#include "backups/restore.h"
#include "base/parse.h"
#include "watchdog/cli.h"

namespace goodcop::cli {
namespace {

struct RestoreArgs {
  std::string archive, dir, sha256, lower, max_bytes;
  std::vector<std::string> keep;
  bool check = false;
  uint64_t max_entries = 0;
};

}  // namespace

Verb add_restore_verb(CLI::App& root) {
  auto a = std::make_shared<RestoreArgs>();
  Verb v;
  v.app = root.add_subcommand("restore", "restore a tree from a golden archive, atomically");
  v.app->add_option("ARCHIVE", a->archive, "golden archive (checked against ARCHIVE.sha256)")->required();
  v.app->add_option("DIR", a->dir, "tree to replace (created when missing)");
  v.app->add_option("--keep", a->keep, "path inside DIR carried over untouched (repeatable)");
  v.app->add_option("--sha256", a->sha256, "expected archive digest (instead of ARCHIVE.sha256)");
  v.app->add_flag("--check", a->check, "only verify the archive (exit 1 when damaged)");
  v.app->add_option("--lower", a->lower, "overlay mode: extract into LOWER/<sha256> once");
  v.app->add_option("--max-entries", a->max_entries, "refuse archives with more entries");
  v.app->add_option("--max-bytes", a->max_bytes, "refuse archives expanding beyond this (e.g. 20G)");
  v.run = [a] {
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
    if (a->dir.empty()) {
      std::cerr << "goodcop: restore: DIR is required (or --check, or --lower ROOT)\n";
      return kExitUsage;
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
