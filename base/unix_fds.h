#pragma once
// Passing descriptors over a Unix socket (SCM_RIGHTS, unix(7)): the jail setup hands its
// tree fds to the starter, `goodcop exec` hands its stdio to the daemon.

#include <sys/types.h>

#include <cstddef>
#include <span>
#include <vector>

#include "base/fd.h"

namespace goodcop {

// One sendmsg(2) of `data` with `fds` attached (MSG_NOSIGNAL, retried on EINTR). The fds
// ride on the first byte sent: the receiver gets them with that segment. Returns what
// sendmsg returns (bytes sent, or -1 with errno set); `data` must not be empty.
ssize_t send_with_fds(int sock, std::span<const char> data, std::span<const int> fds);

// What one recv_with_fds call got.
struct Received {
  ssize_t n = 0;               // recvmsg's result: bytes, 0 at EOF, -1 with errno set
  std::vector<UniqueFd> fds;   // descriptors that came with them (close-on-exec)
  bool truncated = false;      // more descriptors were sent than max_fds: the kernel
                               // dropped (closed) the rest (MSG_CTRUNC)
};

// One recvmsg(2) into `buf` with room for `max_fds` descriptors (CMSG_SPACE rounds that up
// to 8 bytes: room for 3 holds 4, so a caller with a limit counts what came), received with
// MSG_CMSG_CLOEXEC so none leaks into a process spawned meanwhile. `flags` are added
// (MSG_DONTWAIT). Not retried: EINTR and EAGAIN come back in errno.
Received recv_with_fds(int sock, std::span<char> buf, size_t max_fds, int flags = 0);

}  // namespace goodcop
