#pragma once
// Users and groups of a jail: names resolved from the jail's own /etc/passwd and /etc/group,
// never the host's (a jail's "www" is not the host's "www"). The jail's tree may be hostile:
// the files are opened with openat2(RESOLVE_IN_ROOT), so a symlink (absolute or full of "..")
// resolves inside the tree as it would in the jail, and never reads a host file; fifos,
// devices and oversized files are refused.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace goodcop::kernel {

// The uid and primary gid of `user` in the jail whose tree is the host directory `root`.
// `user` is a name from the jail's /etc/passwd, or a number (all digits): its gid is then the
// one /etc/passwd lists for that uid, or the same number when none does. Ids must lie in the
// jail's range 0..65535. Throws Error: "user 'x' not found in jail", "user 'x' has uid 70000,
// outside the jail's ids 0-65535"; SysError when the file can't be read (a symlink loop).
std::pair<uint32_t, uint32_t> resolve_user(const std::string& root, const std::string& user);

// The supplementary groups of the named `user` in the jail, as initgroups(3) sets them: `gid`
// (the user's primary group, or the one asked for) first, then every group of the jail's
// /etc/group whose member list names `user`, each once. A missing /etc/group gives {gid}.
// Throws Error "user 'x' is in group 'y' with gid 70000, outside the jail's ids 0-65535".
std::vector<uint32_t> resolve_groups(const std::string& root, const std::string& user,
                                     uint32_t gid);

// The gid of `group` in the jail: a name from the jail's /etc/group, or a number.
// Throws Error "group 'x' not found in jail" and the like.
uint32_t resolve_group(const std::string& root, const std::string& group);

}  // namespace goodcop::kernel
