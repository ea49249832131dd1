#pragma once
// The cheap check of an overlay jail (DESIGN.md, Storage: "a check costs O(what changed)").
// Every write a jail makes lands in its overlay's upper layer; the lower layer is the golden
// tree, read-only to the jail. So when the upper layer holds nothing but what the checks
// ignore, plus directories that overlayfs copied up unchanged (as parents of ignored
// writes), the merged tree is still the baseline, and the whole tree need not be walked.
//
// Anything else — a file, a symlink, a whiteout (a deletion), an opaque or redirected
// directory, a directory that is new or whose owner, mode or capability differ, anything
// unreadable — answers kLook: the caller walks the merged tree and gets the exact diff.

#include <cstddef>
#include <string>

#include "integrity/glob.h"
#include "integrity/manifest.h"

namespace goodcop::driver {

enum class UpperVerdict { kClean, kLook };

// `upper_fd`: the overlay's upper directory; `merged_fd`: the mounted tree the baseline
// was built from (its attributes are compared: the host's view of the ids); `baseline`
// sorted; at most `max_entries` upper entries are looked at before answering kLook.
UpperVerdict scan_upper(int upper_fd, int merged_fd, const integrity::Manifest& baseline,
                        const integrity::IgnoreSet& ignore, size_t max_entries = 100'000);

// True when the upper layer accounts for a difference at `rel` (a path of the merged tree,
// "" its root): upper holds an entry at that path, or above it one that hides or replaces
// what the lower layer has there (a whiteout, a file, an opaque or redirected directory).
// Every change a jail makes shows so in upper. A difference nothing in upper accounts for
// lies in the lower layer, which no jail can write: the host side or the disk changed it.
// Anything unreadable answers false.
bool upper_accounts_for(int upper_fd, const std::string& rel);

}  // namespace goodcop::driver
