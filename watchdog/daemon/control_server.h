#pragma once
// The control socket: a Unix stream socket only root may use. Every connection is
// checked with SO_PEERCRED (unix(7)) before a byte of it is read; the socket file is
// 0600 in a 0700 directory. Requests are newline-delimited JSON (protocol.h), capped
// at kMaxRequestBytes; malformed ones are answered with an error, never a crash.
// Before binding, a lock file next to the socket is taken with flock(2), so a second
// daemon refuses to start instead of unlinking a live daemon's socket.

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "base/fd.h"
#include "watchdog/daemon/protocol.h"

namespace goodcop::supervisor {

inline constexpr const char* kDefaultSocket = "/run/goodcop/control.sock";

// Answers one request; must call the reply exactly once (now or later, on the loop).
using RequestHandler = std::function<void(const Request&, std::function<void(Response)>)>;

// The lock and socket are taken in open(), released in close() or the destructor.
class ControlServer {
 public:
  struct Limits {
    size_t max_connections = 32;            // concurrent clients
    std::chrono::milliseconds idle{30000};  // a silent client is dropped
  };

  ControlServer(boost::asio::io_context& io, std::string path, RequestHandler handler,
                uid_t allowed_uid = 0);
  ControlServer(boost::asio::io_context& io, std::string path, RequestHandler handler,
                uid_t allowed_uid, Limits limits);
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;
  ~ControlServer();

  // Creates the directory (0700) if missing, takes the lock, replaces a stale socket,
  // binds (0600) and starts accepting. Throws Error when another daemon holds the lock.
  void open();
  // Stops accepting, drops the clients, removes the socket file (the lock file stays:
  // unlinking a lock file another process may be opening would let two daemons in).
  void close();
  const std::string& path() const { return path_; }
  std::string lock_path() const { return path_ + ".lock"; }

  class Session;

 private:
  void accept();

  boost::asio::io_context& io_;
  std::string path_;
  RequestHandler handler_;
  uid_t allowed_uid_;
  Limits limits_;
  UniqueFd lock_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  boost::asio::steady_timer retry_;
  bool bound_ = false;
  std::shared_ptr<std::set<Session*>> sessions_ = std::make_shared<std::set<Session*>>();
};

}  // namespace goodcop::supervisor
