#pragma once
// Capabilities: the bounding set a jail's root keeps (everything else is gone for good,
// even across setuid-root exec), and dropping everything in goodcop's own init.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace goodcop::kernel {

// Drops every capability not in `keep` (bit n = capability n) from the bounding set, and
// clears the inheritable and ambient sets so nothing comes back across execve(2).
void drop_bounding_set(uint64_t keep);

// Clears the permitted, effective and inheritable sets of the calling process, but for the
// capabilities in `keep` (bit n = capability n), which stay permitted and effective.
void drop_all_capabilities(uint64_t keep = 0);

// "net_admin" or "CAP_NET_ADMIN" → 12; nullopt when unknown.
std::optional<int> capability_from_name(std::string_view name);

// "chown,dac_override,..." for a mask (docs and error messages).
std::string capability_names(uint64_t mask);

}  // namespace goodcop::kernel
