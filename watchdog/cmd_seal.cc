// `goodcop seal`: two forms, told apart by their options, never by guessing.
//   goodcop seal DIR -o ARCHIVE | --golden GOLDEN   offline: a golden archive of a tree
//                                                   (backups/), manifest inside, SHA-256 beside it
//   goodcop seal JAIL [--socket PATH]               the daemon accepts a jail's current tree
//                                                   as its new golden version
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "backups/seal.h"
#include "base/error.h"
#include "integrity/glob.h"
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

struct SealArgs {
  std::string dir, out, golden, compression = "zstd", socket;
  std::vector<std::string> ignore;
};

backups::Compression compression_of(const std::string& s) {
  if (s == "zstd") return backups::Compression::kZstd;
  if (s == "gzip") return backups::Compression::kGzip;
  return backups::Compression::kNone;
}

int run_daemon_form(const SealArgs& a, const CLI::App& app) {
  for (const char* opt : {"--compression", "--ignore"}) {
    if (app.count(opt) > 0) {
      std::cerr << "goodcop: seal: " << opt
                << " applies to DIR -o ARCHIVE or DIR --golden GOLDEN\n";
      return kExitUsage;
    }
  }
  if (!is_jail_name(a.dir)) {
    std::cerr << "goodcop: seal: '" << a.dir
              << "' is not a jail name: seal a directory with -o ARCHIVE or --golden GOLDEN\n";
    return kExitUsage;
  }
  return run_daemon_jail_verb("seal", a.dir, a.socket);
}

}  // namespace

Verb add_seal_verb(CLI::App& root) {
  auto a = std::make_shared<SealArgs>();
  Verb v;
  v.app = root.add_subcommand(
      "seal", "write a golden archive of a tree, or have the daemon seal a jail's tree");
  v.app->add_option("DIR|JAIL", a->dir, "tree to seal, or (without -o/--golden) a jail name")
      ->required();
  auto* out = v.app->add_option("-o,--output", a->out,
                                "archive to write (its digest goes to ARCHIVE.sha256)");
  auto* golden =
      v.app->add_option("--golden", a->golden,
                        "golden directory: write the next version N.tar.zst and make it current");
  out->excludes(golden);
  v.app->add_option("--compression", a->compression, "zstd, gzip or none")
      ->check(CLI::IsMember({"zstd", "gzip", "none"}))
      ->capture_default_str();
  v.app->add_option("--ignore", a->ignore,
                    "leave paths matching GLOB out of the manifest and the archive (repeatable; "
                    "watch.ignore syntax: 'var/cache/**', '**/*.pyc')");
  auto* socket = v.app->add_option("--socket", a->socket,
                                   "JAIL form: control socket of the daemon (default " +
                                       std::string(supervisor::kDefaultSocket) + ")");
  socket->excludes(out)->excludes(golden);
  v.app->footer(
      "Forms:\n"
      "  goodcop seal DIR -o ARCHIVE [--ignore GLOB]...\n"
      "                                     seal the tree DIR into ARCHIVE (offline)\n"
      "  goodcop seal DIR --golden GOLDEN   seal DIR as the next version in GOLDEN (offline)\n"
      "  goodcop seal JAIL [--socket PATH]  the running daemon accepts JAIL's current tree as\n"
      "                                     its new golden version");
  CLI::App* app = v.app;
  v.run = [a, app] {
    if (a->out.empty() && a->golden.empty()) return run_daemon_form(*a, *app);
    backups::SealOptions o;
    o.compression = compression_of(a->compression);
    o.ignore = a->ignore;
    try {
      (void)integrity::IgnoreSet(o.ignore);
    } catch (const Error& e) {
      std::cerr << "goodcop: seal: --ignore: " << e.what() << "\n";
      return kExitUsage;
    }
    if (!a->golden.empty()) {
      backups::GoldenVersion g = backups::golden_seal(a->dir, a->golden, o);
      std::cout << fmt::format("sealed '{}' as version {}: '{}' (current), sha256 {}\n", a->dir,
                               g.number, g.path, backups::read_recorded_digest(g.path));
      return kExitOk;
    }
    backups::SealResult r = backups::seal(a->dir, a->out, o);
    std::cout << fmt::format("sealed '{}' into '{}': {} entries, {} bytes, sha256 {}\n", a->dir,
                             r.archive, r.entries, r.bytes, r.sha256);
    return kExitOk;
  };
  return v;
}

}  // namespace goodcop::cli
