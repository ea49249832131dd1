#include "watchdog/daemon/control_client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "base/fd.h"
#include "base/unix_fds.h"

namespace goodcop::supervisor {
namespace {

UniqueFd connect_to(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    throw Error("control socket path '" + path + "' is empty or too long");
  std::memcpy(addr.sun_path, path.data(), path.size());
  UniqueFd fd(check(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket", path));
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    int err = errno;
    throw Error("control socket '" + path + "': connect: " + std::strerror(err) +
                " (is the daemon running?)");
  }
  return fd;
}

std::string read_line(int fd, const std::string& path) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    check(n, "read", path);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    auto nl = out.find('\n');
    if (nl != std::string::npos) {
      out.resize(nl);
      break;
    }
    if (out.size() > kMaxResponseBytes) throw SysError("read", path, EMSGSIZE);
  }
  return out;
}

}  // namespace

std::string call_daemon_raw(const std::string& socket_path, const std::string& bytes,
                            const std::vector<int>& pass_fds) {
  UniqueFd fd = connect_to(socket_path);
  // A daemon that closes early (oversized request) must not kill us with SIGPIPE.
  size_t off = 0;
  if (!pass_fds.empty() && !bytes.empty()) {
    ssize_t n = send_with_fds(fd.get(), bytes, pass_fds);  // base/unix_fds.h
    check(n, "sendmsg", socket_path);
    off = static_cast<size_t>(n);
  }
  while (off < bytes.size()) {
    ssize_t n = ::send(fd.get(), bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) break;
    check(n, "send", socket_path);
    off += static_cast<size_t>(n);
  }
  // Done sending: the daemon sees EOF after our requests instead of waiting for more.
  ::shutdown(fd.get(), SHUT_WR);
  try {
    return read_line(fd.get(), socket_path);
  } catch (const SysError& e) {
    if (e.code() == ECONNRESET) return {};
    throw;
  }
}

Response call_daemon(const std::string& socket_path, const Request& req,
                     const std::vector<int>& pass_fds) {
  std::string line = call_daemon_raw(socket_path, format_request(req), pass_fds);
  if (line.empty()) return Response::failure(3, "the daemon closed the connection");
  return parse_response(line);
}

}  // namespace goodcop::supervisor
