#pragma once
// Restores from a golden archive. Plain mode: verify the archive, extract it into a
// staging directory beside the jail tree, verify the result against the manifest,
// carry the persistent (`keep`) paths over, swap with renameat2(RENAME_EXCHANGE),
// then remove the old tree. At every instant the tree is the whole old one or the
// whole new one; a killed restore leaves a staging directory the next one cleans up.

#include <cstdint>
#include <string>
#include <vector>

#include "backups/extract.h"

namespace goodcop::backups {

// How to restore.
struct RestoreOptions {
  // Paths relative to the tree root carried over from the old tree untouched
  // (a policy's `keep`). Missing ones are skipped.
  std::vector<std::string> keep;
  ExtractLimits limits;
  // The archive's expected SHA-256; empty means the one in `<archive>.sha256`.
  std::string expected_digest;
};

// What a restore did.
struct RestoreResult {
  std::string archive_sha256;
  std::string manifest_digest;
  uint64_t entries = 0;
  uint64_t bytes = 0;
  bool replaced = false;  // an old tree was swapped out (false: first install)
};

// The staging directory a restore of `dir` uses: `<parent>/.goodcop-staging-<name>`.
std::string staging_path(const std::string& dir);

// Verifies `archive` completely without writing anything: its digest, then every
// member against the manifest inside. Throws Error with the first problem.
RestoreResult verify_archive(const std::string& archive, const RestoreOptions& opts = {});

// Plain-mode restore of `dir` from `archive` (see above). `dir` must not be a mount
// point (renameat2 fails with EBUSY): swap while the jail's root is unmounted.
// Throws Error on any failure; `dir` is then left as it was. Safe from any thread;
// concurrent restores of one `dir` take turns (a lock file beside it).
RestoreResult restore_plain(const std::string& archive, const std::string& dir,
                            const RestoreOptions& opts = {});

// Removes a staging directory left by a killed restore of `dir`, first moving back
// any `keep` path that had already been carried into it. No-op when there is none.
void recover_staging(const std::string& dir, const std::vector<std::string>& keep);

}  // namespace goodcop::backups
