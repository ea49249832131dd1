// `goodcop seal DIR -o ARCHIVE` / `goodcop seal DIR --golden GOLDEN`: a golden
// archive of a tree (backups/), its manifest inside and its SHA-256 beside it.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <string>

#include "backups/seal.h"
#include "watchdog/cli.h"

namespace goodcop::cli {
namespace {

struct SealArgs {
  std::string dir, out, golden, compression = "zstd";
};

backups::Compression compression_of(const std::string& s) {
  if (s == "zstd") return backups::Compression::kZstd;
  if (s == "gzip") return backups::Compression::kGzip;
  return backups::Compression::kNone;
}

}  // namespace

Verb add_seal_verb(CLI::App& root) {
  auto a = std::make_shared<SealArgs>();
  Verb v;
  v.app = root.add_subcommand("seal", "write a golden archive of a tree (pax, zstd, manifest inside)");
  v.app->add_option("DIR", a->dir, "tree to seal")->required();
  auto* out = v.app->add_option("-o,--output", a->out, "archive to write (its digest goes to ARCHIVE.sha256)");
  auto* golden = v.app->add_option("--golden", a->golden,
                                   "golden directory: write the next version N.tar.zst and make it current");
  out->excludes(golden);
  v.app->add_option("--compression", a->compression, "zstd, gzip or none")
      ->check(CLI::IsMember({"zstd", "gzip", "none"}))
      ->capture_default_str();
  v.run = [a] {
    if (a->out.empty() && a->golden.empty()) {
      std::cerr << "goodcop: seal: one of -o ARCHIVE or --golden DIR is required\n";
      return kExitUsage;
    }
    backups::SealOptions o;
    o.compression = compression_of(a->compression);
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
