#pragma once
// Hostile-archive-safe extraction. libarchive's secure flags stop "..", absolute
// paths, writes through symlinks and hard links out of the tree, but still create
// device nodes, keep setuid bits, and let a 135 KB zstd member expand to 4 GiB; so
// every member is also checked against what the manifest expects, and entries and
// bytes are capped. Extraction runs in a helper process: Debian's libarchive 3.6.2
// changes the whole process's umask while extracting (CVE-2023-30571). The helper is
// the goodcop binary itself, started with posix_spawn (backups/spawn.h) in the internal
// mode `__backups-extract`, so callers may be threads of the multi-threaded daemon.

#include <cstdint>
#include <map>
#include <string>

namespace goodcop::backups {

// What one path of the tree is expected to be (from the manifest).
struct ExpectedEntry {
  char type = 'f';    // f regular, d directory, l symlink, c/b device, p fifo, s socket
  uint32_t mode = 0;  // permission bits including setuid/setgid/sticky (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;   // regular files
  std::string sha256;  // regular files, lower-case hex
  std::string link;    // symlink target
  uint64_t rdev = 0;   // device nodes
};

// Path relative to the tree root ("." is the root itself) -> expectation.
using ExpectedTree = std::map<std::string, ExpectedEntry>;

// Caps on what an archive may make us write (a tar bomb is refused, not extracted).
struct ExtractLimits {
  uint64_t max_entries = 2'000'000;
  uint64_t max_bytes = uint64_t{256} << 30;  // data bytes actually written (holes excluded)
  uint64_t max_path = 4096;
};

// How to extract.
struct ExtractOptions {
  ExtractLimits limits;
  // When set, every member must match its entry and every entry must be present;
  // when null, device nodes and setuid/setgid bits are refused outright.
  const ExpectedTree* expected = nullptr;
  // Skip the first member (the golden archive's manifest, `.goodcop/MANIFEST`).
  bool skip_manifest_member = false;
  // Check every member (and the caps) without writing anything: `target` is untouched.
  bool dry_run = false;
  // An fd the helper keeps open until it is gone (a restore passes its lock file, so the
  // next restore also waits for the helper of a killed one). -1: none.
  int hold_fd = -1;
};

// What was extracted.
struct ExtractStats {
  uint64_t entries = 0;
  uint64_t bytes = 0;
};

// The well-known first member of a golden archive.
inline constexpr const char* kManifestMember = ".goodcop/MANIFEST";

// Extracts `archive` into the existing directory `target` in a helper process
// (helper_binary() in its extraction mode), refusing (Error, with the reason) hostile or
// unexpected members. On failure `target` may hold a partial tree: the caller owns and
// removes it. Never writes outside `target`. Safe from any thread.
ExtractStats extract_archive(const std::string& archive, const std::string& target,
                             const ExtractOptions& opts);

// Normalises a member name to a tree path ("./a/b" -> "a/b", "./" -> "."), or
// returns "" when it is absolute, contains "..", or is otherwise unsafe.
std::string normalize_member_path(const std::string& name);

}  // namespace goodcop::backups
