#pragma once
// The jail's user namespace: jail ids 0..65535 are host ids base..base+65535, a range
// no host user owns, so the jail's root is nobody on the host.

#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace goodcop::kernel {

// How many ids a jail gets.
inline constexpr uint32_t kJailIdCount = 65536;

// Writes /proc/<pid>/uid_map and gid_map: "0 <base> 65536". Run by the setup process,
// which is root in the parent namespace (so no setgroups "deny" is needed).
void write_id_maps(pid_t pid, uint32_t base);

// Becomes uid/gid 0 of the jail, with group 0 alone (after the maps exist).
void become_jail_root();

// Switches to uid/gid inside the jail with the supplementary groups `groups` (just gid when
// empty); a non-root user loses every capability here (capabilities(7), "effect of user ID
// changes").
void become_user(uint32_t uid, uint32_t gid, const std::vector<uint32_t>& groups = {});

}  // namespace goodcop::kernel
