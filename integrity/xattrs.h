#pragma once
// The xattrs of entries of a hostile tree (security.capability, or all of them),
// bounded in size. Internal to integrity/.

#include <string_view>
#include <vector>

#include "integrity/manifest.h"

namespace goodcop::integrity {

// The xattrs of an open fd: security.capability, or all of them. With
// `list_first` (the fd's filesystem lists every xattr it stores: lists_xattrs()),
// security.capability is looked up only when flistxattr names it. Throws SysError.
std::vector<Xattr> read_xattrs_fd(int fd, bool all, std::string_view what, bool list_first = false);

// Whether the filesystem of fd is one whose listxattr(2) names every xattr it
// stores, security.capability included (tmpfs, ext2/3/4, xfs, btrfs, overlayfs).
bool lists_xattrs(int fd);

// All xattrs of `name` (one component) below dirfd, without opening it and
// without following it: for symlinks, fifos, devices and sockets.
std::vector<Xattr> read_xattrs_at(int dirfd, const char* name, std::string_view what);

}  // namespace goodcop::integrity
