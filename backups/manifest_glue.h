#pragma once
// The one place backups/ talks to integrity/: building a tree's manifest, reading
// the expectations of a manifest, and verifying a tree against one.

#include <string>
#include <string_view>
#include <vector>

#include "backups/extract.h"

namespace goodcop::backups {

// A manifest as stored in a golden archive, and what it expects of every path.
struct TreeManifest {
  std::string text;  // the manifest file's bytes
  ExpectedTree expected;
};

// Builds the manifest of `dir`, leaving out paths matching `ignore` (integrity/glob.h).
TreeManifest build_tree_manifest(const std::string& dir,
                                 const std::vector<std::string>& ignore = {});

// Parses manifest bytes (as stored in a golden archive). Throws Error when invalid.
TreeManifest parse_tree_manifest(std::string_view text);

// The outcome of checking a tree against a manifest.
struct TreeCheck {
  bool clean = true;
  std::string diff_json;  // the manifest diff as JSON (same as `manifest verify --json`)
};

// Verifies `dir` against `manifest`.
TreeCheck verify_tree(const std::string& dir, const TreeManifest& manifest);

}  // namespace goodcop::backups
