#pragma once
// Golden archives: a pax archive of a jail tree (owners, modes, times, xattrs,
// ACLs, hard links, sparse files and device nodes intact) whose first member is
// the tree's manifest (`.goodcop/MANIFEST`), with its SHA-256 recorded beside it
// in `<archive>.sha256`. Golden directories version them per jail:
// `<golden>/<n>.tar.zst` plus a `current` symlink naming the one restores use.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "backups/archive.h"
#include "backups/extract.h"

namespace goodcop::backups {

// How to seal.
struct SealOptions {
  SealOptions() = default;
  // `{Compression::kNone}` as before `ignore` existed.
  SealOptions(Compression c) : compression(c) {}  // NOLINT(google-explicit-constructor)
  Compression compression = Compression::kZstd;
  // Paths left out of both the manifest and the archive: globs of the policy's
  // watch.ignore syntax (integrity/glob.h), anchored at the tree root ("var/cache/**").
  // The manifest records them, so a verify of the restored tree ignores them too.
  std::vector<std::string> ignore;
};

// What sealing produced.
struct SealResult {
  std::string archive;          // path written
  std::string sha256;           // digest of the archive file (also in <archive>.sha256)
  std::string manifest_digest;  // sha256 of the manifest member's bytes
  uint64_t entries = 0;         // tree entries archived (the manifest member excluded)
  uint64_t bytes = 0;           // archive size in bytes
};

// Archives `dir` into `archive` (written to a temporary name, fsync'ed, renamed) with
// `manifest_text` as first member. When `expected` is given, every regular file's
// content is checked against it while archiving: a tree that changes under the seal
// is an error, not a silently inconsistent archive. Sparse files are archived sparse.
SealResult write_tree_archive(const std::string& dir, const std::string& archive,
                              std::string_view manifest_text, const ExpectedTree* expected,
                              const SealOptions& opts = {});

// Builds the manifest of `dir` (integrity/, without opts.ignore) and writes the golden archive.
SealResult seal(const std::string& dir, const std::string& archive, const SealOptions& opts = {});

// The digest recorded in `<archive>.sha256` (sha256sum format). Throws when absent/invalid.
std::string read_recorded_digest(const std::string& archive);

// Checks the archive file's SHA-256 against `expected` (or `<archive>.sha256` when empty).
// Throws Error("archive '...': sha256 mismatch (...)") when it differs. Returns the digest.
std::string verify_archive_digest(const std::string& archive, const std::string& expected = "");

// Reads the first member (the manifest) of a golden archive, capped at max_bytes.
std::string read_manifest_member(const std::string& archive, uint64_t max_bytes = 1u << 30);

// One version in a golden directory.
struct GoldenVersion {
  uint64_t number = 0;
  std::string path;
  bool current = false;
};

// Seals `dir` as the next version of `golden` (created if needed) and makes it current.
GoldenVersion golden_seal(const std::string& dir, const std::string& golden,
                          const SealOptions& opts = {});

// The versions in `golden`, oldest first.
std::vector<GoldenVersion> golden_list(const std::string& golden);

// The archive `current` points to. Throws when there is none.
std::string golden_current(const std::string& golden);

// Points `current` at version `number` atomically (an operator's roll back).
void golden_set_current(const std::string& golden, uint64_t number);

}  // namespace goodcop::backups
