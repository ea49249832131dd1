#pragma once
// The small value languages of a policy (internal to config/): names, hostnames,
// paths, addresses, globs, CPU fractions, capabilities. Each check returns an empty
// string when the value is good, else the reason ("expected ..., got '...'").

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/policy.h"

namespace goodcop::config {

// The jail name: [a-z0-9][a-z0-9-]{0,30} (it ends up in cgroup and interface names).
std::string check_name(std::string_view s);

// An RFC 1123 host name of at most 64 bytes (Linux HOST_NAME_MAX).
std::string check_hostname(std::string_view s);

// An absolute, normalized path: no '..', '.' or empty components, no trailing '/'.
std::string check_path(std::string_view s);

// True when a and b (normalized absolute paths) are equal or one contains the other.
bool paths_overlap(std::string_view a, std::string_view b);

// An address with an optional prefix length ("198.18.0.2", "2001:db8::2/64") that a
// jail may own: not unspecified, loopback, multicast, link-local or a broadcast address.
std::string parse_address(std::string_view s, bool v6, Address& out);

// A watch.ignore glob; `out` is its normalized form, anchored at the jail root ("/var/log/**").
std::string parse_glob(std::string_view s, std::string& out);

// A CPU count with at most three decimals, 0.01 to 1024 ("0.5", "2"), in thousandths.
std::string parse_cpu(std::string_view s, uint32_t& milli);

// A user name of the jail ([a-z_][a-z0-9_-]{0,31}) or a uid (0 to 4294967294).
std::string parse_user(std::string_view s, ExecUser& out);

// An environment variable name: [A-Za-z_][A-Za-z0-9_]* (at most 255 bytes).
std::string check_env_name(std::string_view s);

// A capability a jail may keep: a known name ("CAP_NET_BIND_SERVICE") that does not
// hand out the host (CAP_SYS_ADMIN, CAP_SYS_MODULE, ... are refused, with the reason).
std::string check_capability(std::string_view s);

// Every capability name the kernel knows (for suggestions and docs).
const std::vector<std::string_view>& capability_names();

}  // namespace goodcop::config
