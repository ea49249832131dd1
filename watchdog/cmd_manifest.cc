// `goodcop manifest build|verify|diff`: manifests of trees (integrity/) from the
// command line. Exit codes: 0 clean, 1 a deviation, 2 usage, 3 other failures
// (an unreadable tree, a damaged manifest).
#include <stdlib.h>
#include <unistd.h>

#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "integrity/manifest.h"
#include "integrity/scan.h"
#include "integrity/verify.h"
#include "watchdog/cli.h"

namespace goodcop::cli {
namespace {

namespace in = goodcop::integrity;

struct ManifestArgs {
  std::string dir, file, old_file, new_file;
  std::vector<std::string> ignore;
  bool all_xattrs = false, json = false, quick = false, portable = false, no_progress = false;
  unsigned threads = 0;
};

// "\r" progress on a terminal only; scripts and logs get no carriage returns.
void show_progress(const in::Progress& p) {
  std::cerr << fmt::format("\rhashing: {}/{} files, {}/{} MiB", p.files_done, p.files_total,
                           p.bytes_done >> 20, p.bytes_total >> 20)
            << std::flush;
}

std::string summary(const in::Diff& d, const std::string& what) {
  if (!d.limit.empty()) return "deviation: " + d.limit + "\n";
  if (d.clean()) return fmt::format("clean: {} entries match '{}'\n", d.entries, what);
  uint64_t n = d.added + d.removed + d.changed;
  std::string s = fmt::format("{} deviation{}: {} added, {} removed, {} changed\n", n,
                              n == 1 ? "" : "s", d.added, d.removed, d.changed);
  if (d.truncated) s += fmt::format("(only the first {} are listed)\n", d.changes.size());
  return s;
}

int report(const in::Diff& d, bool json, const std::string& what) {
  if (json) {
    std::cout << in::to_json(d).dump(2) << "\n";
  } else {
    std::cout << in::format_human(d) << summary(d, what);
  }
  return d.clean() ? kExitOk : kExitDeviation;
}

// Whether `file` would be created inside the tree `dir` (realpath of both): its temporary
// file must then not exist while the tree is walked, or the manifest would list it.
bool inside_tree(const std::string& dir, const std::string& file) {
  auto slash = file.rfind('/');
  std::string parent =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : file.substr(0, slash));
  std::unique_ptr<char, decltype(&std::free)> d(::realpath(dir.c_str(), nullptr), &std::free);
  std::unique_ptr<char, decltype(&std::free)> p(::realpath(parent.c_str(), nullptr), &std::free);
  if (!d || !p) return true;  // let the build say what is wrong, in the old order
  std::string ds(d.get()), ps(p.get());
  if (ds == "/") return true;
  return ps == ds || ps.compare(0, ds.size() + 1, ds + "/") == 0;
}

int run_build(const ManifestArgs& a) {
  in::ScanOptions opts;
  opts.ignore = a.ignore;
  opts.all_xattrs = a.all_xattrs;
  opts.threads = a.threads;
  bool tty = !a.no_progress && ::isatty(2) == 1;
  if (tty) opts.progress = show_progress;
  in::Manifest m;
  // The text is written while the build joins the entries after its walk (piece by piece:
  // the 57 MB of a 200,000-file manifest are never held, copied and written out as one
  // string), into a temporary file renamed over FILE at the end; after the build when
  // FILE is in the tree.
  if (a.file == "-") {
    m = in::build_manifest(a.dir, opts,
                           [](std::string_view piece) { write_all(1, piece, "stdout"); });
    if (tty) std::cerr << "\n";
    return kExitOk;
  }
  if (inside_tree(a.dir, a.file)) {
    m = in::build_manifest(a.dir, opts);
    write_file_atomic(a.file, [&](int fd, const std::string& tmp) {
      in::write_manifest(m, [&](std::string_view piece) { write_all(fd, piece, tmp); });
    });
  } else {
    write_file_atomic(a.file, [&](int fd, const std::string& tmp) {
      m = in::build_manifest(a.dir, opts,
                             [&](std::string_view piece) { write_all(fd, piece, tmp); });
    });
  }
  if (tty) std::cerr << "\n";
  uint64_t files = 0, bytes = 0;
  for (const in::Entry& e : m.entries()) {
    if (e.type != in::EntryType::kFile) continue;
    ++files;
    bytes += e.size;
  }
  std::cout << fmt::format("wrote '{}': {} entries, {} files, {} bytes hashed\n", a.file, m.size(),
                           files, bytes);
  return kExitOk;
}

int run_verify(const ManifestArgs& a) {
  in::Manifest m = in::load_manifest(a.file);
  in::VerifyOptions opts;
  opts.mode = a.quick ? in::VerifyMode::kQuick : in::VerifyMode::kFull;
  opts.local = !a.portable;
  opts.ignore = a.ignore;
  opts.all_xattrs = a.all_xattrs;
  opts.threads = a.threads;
  UniqueFd root = in::open_tree(a.dir);
  in::Diff d = in::verify(root.get(), m, opts);
  return report(d, a.json, a.file);
}

int run_diff(const ManifestArgs& a) {
  in::Manifest o = in::load_manifest(a.old_file);
  in::Manifest n = in::load_manifest(a.new_file);
  return report(in::diff(o, n), a.json, a.old_file);
}

}  // namespace

Verb add_manifest_verb(CLI::App& root) {
  auto args = std::make_shared<ManifestArgs>();
  Verb v;
  v.app = root.add_subcommand("manifest", "build, verify and compare manifests of trees");
  v.app->require_subcommand(1);

  CLI::App* build = v.app->add_subcommand("build", "hash a tree into a manifest");
  build->add_option("DIR", args->dir, "tree to scan")->required();
  build->add_option("-o,--output", args->file, "manifest file to write ('-' for stdout)")->required();
  build->add_option("--ignore", args->ignore, "glob of paths to leave out (repeatable; '**' allowed)");
  build->add_flag("--all-xattrs", args->all_xattrs, "record all xattrs, not only security.capability");
  build->add_option("--threads", args->threads, "hashing threads (default: one per core)");
  build->add_flag("--no-progress", args->no_progress, "no progress display on a terminal");

  CLI::App* verify = v.app->add_subcommand("verify", "check a tree against its manifest");
  verify->add_option("DIR", args->dir, "tree to check")->required();
  verify->add_option("FILE", args->file, "manifest")->required();
  verify->add_flag("--json", args->json, "print the result as JSON (docs/manifest.md)");
  verify->add_flag("--quick", args->quick,
                   "compare metadata (incl. ctime and inode); hash only changed files");
  verify->add_flag("--portable", args->portable,
                   "the tree is a copy (extracted elsewhere): ignore inode and ctime");
  verify->add_option("--ignore", args->ignore, "more globs to leave out (repeatable)");
  verify->add_flag("--all-xattrs", args->all_xattrs, "compare all xattrs (build with it too)");
  verify->add_option("--threads", args->threads, "hashing threads (default: one per core)");

  CLI::App* diff = v.app->add_subcommand("diff", "compare two manifests");
  diff->add_option("OLD", args->old_file, "older manifest")->required();
  diff->add_option("NEW", args->new_file, "newer manifest")->required();
  diff->add_flag("--json", args->json, "print the result as JSON (docs/manifest.md)");

  v.run = [args, build, verify, diff]() -> int {
    if (build->parsed()) return run_build(*args);
    if (verify->parsed()) return run_verify(*args);
    if (diff->parsed()) return run_diff(*args);
    return kExitUsage;
  };
  return v;
}

}  // namespace goodcop::cli
