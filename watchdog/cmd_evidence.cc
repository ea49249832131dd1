// `goodcop evidence list|show|verify|export`: the responder's view of evidence
// bundles (docs/evidence.md). verify exits 1 on any mismatch.
#include <fmt/format.h>
#include <sys/stat.h>

#include <iostream>
#include <memory>
#include <string>

#include "backups/evidence.h"
#include "base/fd.h"
#include "watchdog/cli.h"

namespace goodcop::cli {
namespace {

struct EvidenceArgs {
  std::string dir = "/var/lib/goodcop/evidence", jail, bundle, out, key, log;
  bool no_log = false;
};

int run_list(const EvidenceArgs& a) {
  for (const auto& b : backups::list_bundles(a.dir, a.jail)) {
    struct stat st {};
    long long size = ::stat(b.path.c_str(), &st) == 0 ? static_cast<long long>(st.st_size) : -1;
    std::cout << fmt::format("{}  {:<16} {:<10} {:>12}  {}\n", b.time, b.jail, b.trigger, size, b.path);
  }
  return kExitOk;
}

backups::BundleReport verify(const EvidenceArgs& a) {
  backups::VerifyBundleOptions o;
  o.log = a.log;
  o.require_log = !a.no_log;
  if (!a.key.empty()) o.public_key = read_file(a.key, 64 * 1024);
  return backups::verify_bundle(a.bundle, o);
}

int run_show(const EvidenceArgs& a) {
  backups::VerifyBundleOptions o;
  o.require_log = false;
  backups::BundleReport r = backups::verify_bundle(a.bundle, o);
  std::cout << r.custody_json;
  std::cout << "members:\n";
  for (const auto& [name, size] : r.members) std::cout << fmt::format("  {:>12}  {}\n", size, name);
  std::cout << (r.ok() ? "integrity: ok (run 'evidence verify' to check the log and signer)\n"
                       : "integrity: FAILED (run 'evidence verify')\n");
  return kExitOk;
}

int run_verify(const EvidenceArgs& a) {
  backups::BundleReport r = verify(a);
  for (const auto& n : r.notes) std::cout << "ok: " << n << "\n";
  for (const auto& p : r.problems) std::cout << "mismatch: " << p << "\n";
  if (!r.ok()) {
    std::cerr << "goodcop: evidence verify: '" << a.bundle << "': " << r.problems.size()
              << " mismatch" << (r.problems.size() == 1 ? "" : "es") << "\n";
    return kExitDeviation;
  }
  std::cout << "verified: '" << a.bundle << "'\n";
  return kExitOk;
}

}  // namespace

Verb add_evidence_verb(CLI::App& root) {
  auto a = std::make_shared<EvidenceArgs>();
  Verb v;
  v.app = root.add_subcommand("evidence", "list, show, verify and export evidence bundles");
  v.app->require_subcommand(1);
  CLI::App* list = v.app->add_subcommand("list", "bundles in the evidence directory, oldest first");
  list->add_option("JAIL", a->jail, "only this jail's bundles");
  list->add_option("--dir", a->dir, "evidence directory")->capture_default_str();
  CLI::App* show = v.app->add_subcommand("show", "print a bundle's custody record and members");
  show->add_option("BUNDLE", a->bundle, "bundle file")->required();
  CLI::App* ver = v.app->add_subcommand("verify", "check every member hash, the log chain, the signature");
  ver->add_option("BUNDLE", a->bundle, "bundle file")->required();
  ver->add_option("--key", a->key, "Ed25519 public key (PEM) the signature must verify against");
  ver->add_option("--log", a->log, "evidence log (default: JAIL.evidence.log beside the bundle)");
  ver->add_flag("--no-log", a->no_log, "do not require the evidence log (a copied bundle)");
  CLI::App* exp = v.app->add_subcommand("export", "extract a bundle's members into a directory");
  exp->add_option("BUNDLE", a->bundle, "bundle file")->required();
  exp->add_option("DIR", a->out, "directory to create")->required();
  v.run = [a, list, show, ver, exp] {
    if (list->parsed()) return run_list(*a);
    if (show->parsed()) return run_show(*a);
    if (ver->parsed()) return run_verify(*a);
    if (exp->parsed()) {
      backups::export_bundle(a->bundle, a->out);
      std::cout << "exported '" << a->bundle << "' into '" << a->out << "'\n";
      return kExitOk;
    }
    return kExitUsage;
  };
  return v;
}

}  // namespace goodcop::cli
