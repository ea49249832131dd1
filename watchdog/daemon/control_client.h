#pragma once
// The CLI's side of the control socket: one blocking request and its response.

#include <string>
#include <vector>

#include "watchdog/daemon/protocol.h"

namespace goodcop::supervisor {

// The most a response line may be (a status of many jails fits easily).
inline constexpr size_t kMaxResponseBytes = 4u << 20;

// Connects to the daemon's socket, sends `req` (with `pass_fds` attached, SCM_RIGHTS:
// exec's stdin, stdout, stderr), returns its response, however long it takes. Throws
// Error ("control socket '...': connect: ... (is the daemon running?)") when it cannot talk.
Response call_daemon(const std::string& socket_path, const Request& req,
                     const std::vector<int>& pass_fds = {});

// Sends raw bytes (and descriptors) and returns the raw reply up to the first newline or
// EOF (tests feed hostile input through this). Throws SysError.
std::string call_daemon_raw(const std::string& socket_path, const std::string& bytes,
                            const std::vector<int>& pass_fds = {});

}  // namespace goodcop::supervisor
