#pragma once
// Evidence bundles (docs/evidence.md): one pax tar per incident, named
// `<jail>-<UTC time>-<trigger>.tar[.zst]`, holding a custody record, the manifest
// diff, the deviating files as found (with their metadata), volatile state taken
// while the jail was frozen, a SHA-256 of every member (SHA256SUMS), optionally an
// Ed25519 signature of SHA256SUMS; the bundle's own digest is appended to a per-jail,
// hash-chained evidence log. Written to a temporary name, fsync'ed, renamed, and the
// directory fsync'ed; any failure throws, so the caller freezes the jail instead of
// destroying anything.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "backups/archive.h"

namespace goodcop::backups {

// One named piece of volatile state ("processes.json", "output.log", ...).
struct VolatileBlob {
  std::string name;  // [A-Za-z0-9._-]+, becomes `volatile/<name>`
  std::string data;
};

// Where and how bundles are written.
struct EvidenceOptions {
  std::string dir;       // evidence directory (created 0700 if missing)
  unsigned keep = 0;     // retain the newest N bundles of the jail (0: all)
  Compression compression = Compression::kNone;
  std::string signing_key;  // PEM Ed25519 private key; empty: unsigned
  uint64_t max_file_bytes = uint64_t{64} << 20;  // per collected file (longer: truncated)
  uint64_t max_total_bytes = uint64_t{1} << 30;  // all collected files together
  uint64_t max_files = 100'000;
};

// What happened, and what to preserve.
struct Incident {
  std::string jail;     // [A-Za-z0-9._-]+
  std::string trigger;  // [a-z0-9-]+ ("tamper", "manual", "crash", ...)
  std::chrono::system_clock::time_point detected_at;
  std::string policy_digest, golden_digest, manifest_digest;
  std::string collector;  // who/what collected it ("goodcop daemon pid 812", "operator alice")
  std::string diff_json;  // the manifest diff (integrity's JSON)
  std::string tree_root;  // the jail tree (or overlay upper) the files are read from
  std::vector<std::string> paths;  // deviating paths relative to tree_root
  bool whole_tree = false;         // copy everything below tree_root (overlay upper)
  std::vector<VolatileBlob> volatile_state;
};

// A bundle written.
struct BundleInfo {
  std::string path;
  std::string sha256;
  std::vector<std::string> removed;  // older bundles dropped by retention
};

// Writes the bundle, appends its digest to the jail's evidence log, applies retention.
// Throws Error when the bundle cannot be written completely and durably.
BundleInfo write_bundle(const Incident& incident, const EvidenceOptions& opts);

// The per-jail evidence log in `dir`: `<dir>/<jail>.evidence.log`.
std::string evidence_log_path(const std::string& dir, const std::string& jail);

// Appends `bundle_name sha256` to the hash-chained log (flock'ed, fsync'ed).
void append_evidence_log(const std::string& log, const std::string& bundle_name,
                         const std::string& sha256, const std::string& utc_time);

// Checks the whole chain of a log; returns the problems found (empty: intact).
std::vector<std::string> check_evidence_log(const std::string& log);

// A bundle found in an evidence directory.
struct BundleRef {
  std::string path, name, jail, time, trigger;
};

// The bundles in `dir` (of `jail` only, when non-empty), oldest first.
std::vector<BundleRef> list_bundles(const std::string& dir, const std::string& jail = "");

// Parses a bundle file name; false when it is not one.
bool parse_bundle_name(const std::string& name, BundleRef* out);

// How to verify.
struct VerifyBundleOptions {
  std::string log;         // evidence log; empty: `<bundle's dir>/<jail>.evidence.log`
  bool require_log = true; // a missing log is a failure
  std::string public_key;  // PEM Ed25519 public key to check the signature against
};

// The outcome of verifying a bundle: problems empty means everything checked out.
struct BundleReport {
  std::vector<std::string> problems;
  std::vector<std::string> notes;  // what was checked, for `evidence verify`
  std::string custody_json;        // the custody record as stored
  std::vector<std::pair<std::string, uint64_t>> members;  // name, size
  bool ok() const { return problems.empty(); }
};

// Verifies every member hash, the custody record, the file metadata, the signature
// and the log chain. Throws only when the bundle cannot be read at all.
BundleReport verify_bundle(const std::string& bundle, const VerifyBundleOptions& opts = {});

// Extracts a bundle's members into the directory `dir` (created; must be empty) for a
// responder: regular files and directories only, never setuid, never through symlinks.
void export_bundle(const std::string& bundle, const std::string& dir);

// Volatile state of a frozen jail read from /proc, for the bundle: processes (pid,
// ppid, uid, cmdline, exe and its SHA-256, cwd, start time), open files, sockets of
// its network namespace, mounts, cgroup statistics. `init_pid` is the jail's pid 1
// as seen from the host; every process in its pid namespace is included.
std::vector<VolatileBlob> collect_volatile(pid_t init_pid, size_t max_processes = 4096);

}  // namespace goodcop::backups
