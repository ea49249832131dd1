#pragma once
// Overlay storage for a jail with a user namespace. overlayfs cannot be idmapped itself
// (no FS_ALLOW_IDMAP), but since Linux 5.19 its layers can: the overlay is mounted over
// idmapped clones of the lower tree and of the upper/work directory, so the jail's root
// (host uid base) sees the golden files as its own, and what it writes lands on disk with
// the jail's ids (0, not base) — the same ids the golden archive holds.
// The host's view through the overlay shows the mapped ids (base + id).

#include <cstdint>
#include <string>

#include "base/fd.h"

namespace goodcop::driver {

// A user namespace that maps ids 0..65535 to host ids base..base+65535, held by its fd
// (the short-lived process that created it is gone when this returns). Safe to call from
// a thread of a multi-threaded process (the child only pauses until it is killed).
UniqueFd userns_with_map(uint32_t base);

// Mounts the overlay of `lower` (read-only) and `<rw_dir>/upper`, `<rw_dir>/work` on
// `target`, both layers idmapped (jail ids 0.. are host ids base..). `scratch` is a
// directory of the daemon's where the layer mounts are attached during the mount.
// The overlay works in its upper layer with the jail root's ids (base, 0 on disk): a
// file the host creates in it with ids outside the mapping fails with EOVERFLOW.
void mount_idmapped_overlay(const std::string& lower, const std::string& rw_dir,
                            const std::string& scratch, uint32_t base,
                            const std::string& target);

// Mounts a read-only overlay of `<rw_dir>/upper` over `lower`, without any mapping, on
// `target`: the jail's tree with the ids it has on disk (what a seal must archive).
void mount_raw_view(const std::string& lower, const std::string& rw_dir,
                    const std::string& target);

}  // namespace goodcop::driver
