#pragma once
// The jail's filesystem: detached (idmapped) clones of host trees made by the setup
// process, and, inside the jail's mount namespace, the new root with its own /dev and
// /proc, then pivot_root. Each step throws SysError(op, path, errno).

#include <cstdint>
#include <string>

#include "base/fd.h"

namespace goodcop::kernel {

// Attributes for a detached tree (mount_setattr(2)).
struct TreeAttrs {
  bool read_only = false;
  int userns_fd = -1;  // >= 0: idmap the tree through this user namespace
};

// A detached copy of the mount at `path` (open_tree OPEN_TREE_CLONE, not recursive: only
// the filesystem holding path, so host submounts such as /proc never come along), made
// nosuid,nodev, and optionally read-only and idmapped. Run by the setup process, which is
// in the initial user namespace (MOUNT_ATTR_IDMAP needs CAP_SYS_ADMIN there).
UniqueFd clone_tree(const std::string& path, const TreeAttrs& attrs);

// MS_REC|MS_PRIVATE on "/": nothing we mount propagates back to the host
// (mount_namespaces(7)), and pivot_root refuses shared mounts.
void make_mounts_private();

// Attaches a detached tree at target (move_mount(2)).
void attach_tree(int tree_fd, const std::string& target);

// The jail's own /proc at root/proc, with the kernel's knobs read-only and the sensitive
// files masked. Must run before the host's root is detached: the kernel lets a user
// namespace mount proc only while a fully visible proc exists (mount_too_revealing).
void mount_proc(const std::string& root);

// A minimal /dev at root/dev: a tmpfs with null, zero, full, random, urandom and tty bound
// from the host, a private devpts instance with ptmx, and the usual symlinks.
void mount_dev(const std::string& root);

// /dev/console as a pty of the jail's own devpts (never the host's console or terminal).
// goodcop's init drains the master; it also keeps the slave open, or the master would
// report POLLHUP whenever no process in the jail has the console open.
struct Console {
  UniqueFd master;
  UniqueFd slave;
};
Console make_console(const std::string& root);

// A fresh tmpfs (nosuid,nodev, mode 1777) at path.
void mount_tmpfs(const std::string& path);

// pivot_root into root, detach the old root (so nothing of the host remains reachable)
// and chdir("/").
void pivot_into(const std::string& root);

}  // namespace goodcop::kernel
