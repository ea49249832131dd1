#pragma once
// A small tree on /tmp, its manifest, and helpers to check it after a change.

#include <string>
#include <vector>

#include "base/fd.h"
#include "integrity/manifest.h"
#include "integrity/verify.h"
#include "tests/support/support.h"

namespace goodcop::test {

// The tree: a/f (hello), a/g (hard link of a/f), a/s -> f, a/b/deep (text), e/ (empty),
// big (10 bytes), bin/tool (0755).
struct Tree {
  TempDir dir;
  UniqueFd root;
  integrity::Manifest m;

  Tree();
  std::string operator/(const std::string& rel) const { return dir / rel; }
  // Rebuilds the manifest from the tree as it is now.
  void snap(const std::vector<std::string>& ignore = {});
  integrity::Diff quick(uint64_t rolling_budget = 0, integrity::RollingState* rs = nullptr) const;
  integrity::Diff full() const;
};

// The kinds of the change at path (0 when the path did not change).
uint32_t kinds_at(const integrity::Diff& d, const std::string& path);
// The changed paths, in order.
std::vector<std::string> changed_paths(const integrity::Diff& d);
// Replaces a file's bytes keeping its size, then sets its atime/mtime back (touch -r).
void rewrite_same_size_keep_mtime(const std::string& path, const std::string& data);

}  // namespace goodcop::test
