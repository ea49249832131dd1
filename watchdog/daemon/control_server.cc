#include "watchdog/daemon/control_server.h"

#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/log.h"
#include "base/unix_fds.h"

namespace goodcop::supervisor {

namespace asio = boost::asio;
using asio::local::stream_protocol;

namespace {

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The directory keeps everyone but root away from the socket even in the instant
// between bind(2) (which creates the file with the umask) and chmod(2).
void prepare_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST) throw SysError("mkdir", dir, errno);
  struct stat st {};
  check(::lstat(dir.c_str(), &st), "lstat", dir);
  if (!S_ISDIR(st.st_mode)) throw SysError("control socket directory", dir, ENOTDIR);
  if (st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    throw Error("control socket directory '" + dir + "' must be owned by uid " +
                std::to_string(::geteuid()) + " with mode 0700 (it is uid " +
                std::to_string(st.st_uid) + ", mode " + mode + ")");
  }
}

}  // namespace

class ControlServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(stream_protocol::socket sock, ControlServer& server)
      : sock_(std::move(sock)),
        timer_(sock_.get_executor()),
        handler_(server.handler_),
        allowed_uid_(server.allowed_uid_),
        idle_(server.limits_.idle),
        registry_(server.sessions_) {
    registry_->insert(this);
  }
  ~Session() { registry_->erase(this); }

  void start(bool over_limit) {
    // SO_PEERCRED gives the credentials of the peer at connect(2) time, from the
    // kernel: a client cannot forge them (unix(7)).
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(sock_.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
      log_warn("control: getsockopt SO_PEERCRED: {}, connection dropped",
               SysError("getsockopt", "", errno).what());
      shutdown();
      return;
    }
    if (cred.uid != allowed_uid_) {
      log_warn("control: connection from uid {} (pid {}) refused", cred.uid, cred.pid);
      respond(Response::failure(3, "permission denied: the control socket is root-only"), true);
      return;
    }
    if (over_limit) {
      respond(Response::failure(3, "too many control connections, try again"), true);
      return;
    }
    read();
  }

  void shutdown() {
    boost::system::error_code ec;
    timer_.cancel();
    sock_.close(ec);
  }

 private:
  void arm_idle() {
    timer_.expires_after(idle_);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->shutdown();  // a client that says nothing does not hold a slot
    });
  }

  // One request at a time: the next line is read only once the previous one is answered
  // (an exec may take hours), and a line already buffered (pipelined) is served first.
  void read() {
    auto nl = buf_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      dispatch(line);
      return;
    }
    if (buf_.size() > kMaxRequestBytes) {
      respond(Response::failure(2, "request too large"), true);
      return;
    }
    arm_idle();
    sock_.async_wait(stream_protocol::socket::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       self->timer_.cancel();
                       if (ec) {
                         self->shutdown();
                         return;
                       }
                       self->receive();
                     });
  }

  // recvmsg(2) rather than read: a request may carry descriptors (SCM_RIGHTS, unix(7)).
  // MSG_CMSG_CLOEXEC, so no received fd leaks into a jail spawned meanwhile; a control
  // buffer for kMaxPassedFds only, so the kernel drops any more (MSG_CTRUNC) instead of
  // installing them in the daemon.
  void receive() {
    char data[8192];
    Received r = recv_with_fds(sock_.native_handle(), data, kMaxPassedFds, MSG_DONTWAIT);
    ssize_t n = r.n;
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        read();
        return;
      }
      shutdown();
      return;
    }
    for (UniqueFd& fd : r.fds) fds_.push_back(std::move(fd));
    if (r.truncated) fds_truncated_ = true;
    if (n == 0) {
      shutdown();
      return;
    }
    buf_.append(data, static_cast<size_t>(n));
    read();
  }

  void dispatch(const std::string& line) {
    // Descriptors belong to the request they came with; any other request drops them.
    std::vector<UniqueFd> fds = std::exchange(fds_, {});
    bool truncated = std::exchange(fds_truncated_, false);
    ParsedRequest p = parse_request(line);
    if (!p) {
      respond(Response::failure(2, p.error), false);
      return;
    }
    if (truncated || fds.size() > kMaxPassedFds) {
      respond(Response::failure(
                  2, "too many descriptors passed (at most " + std::to_string(kMaxPassedFds) + ")"),
              false);
      return;
    }
    if (p.request.verb == Verb::kExec && !fds.empty())
      p.request.fds = std::make_shared<const std::vector<UniqueFd>>(std::move(fds));
    auto replied = std::make_shared<bool>(false);
    auto self = shared_from_this();
    try {
      handler_(p.request, [self, replied](Response r) {
        if (*replied) return;
        *replied = true;
        self->respond(std::move(r), false);
      });
    } catch (const std::exception& e) {
      // A request must never take the daemon down.
      log_error("control: {}: {}", verb_name(p.request.verb), e.what());
      if (!*replied) {
        *replied = true;
        respond(Response::failure(3, e.what()), false);
      }
    }
  }

  void respond(Response r, bool then_close) {
    out_ = format_response(r);
    asio::async_write(
        sock_, asio::buffer(out_),
        [self = shared_from_this(), then_close](const boost::system::error_code& ec, size_t) {
          if (ec || then_close) {
            self->shutdown();
            return;
          }
          self->read();
        });
  }

  stream_protocol::socket sock_;
  asio::steady_timer timer_;
  RequestHandler handler_;
  uid_t allowed_uid_;
  std::chrono::milliseconds idle_;
  std::shared_ptr<std::set<Session*>> registry_;
  std::string buf_;
  std::string out_;
  std::vector<UniqueFd> fds_;  // received with the request being read
  bool fds_truncated_ = false;
};

ControlServer::ControlServer(asio::io_context& io, std::string path, RequestHandler handler,
                             uid_t allowed_uid)
    : ControlServer(io, std::move(path), std::move(handler), allowed_uid, Limits{}) {}

ControlServer::ControlServer(asio::io_context& io, std::string path, RequestHandler handler,
                             uid_t allowed_uid, Limits limits)
    : io_(io),
      path_(std::move(path)),
      handler_(std::move(handler)),
      allowed_uid_(allowed_uid),
      limits_(limits),
      acceptor_(io),
      retry_(io) {}

ControlServer::~ControlServer() { close(); }

void ControlServer::open() {
  if (path_.empty() || path_.size() >= sizeof(sockaddr_un{}.sun_path))
    throw Error("control socket path '" + path_ + "' is empty or longer than " +
                std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes");
  prepare_dir(dir_of(path_));
  std::string lock = lock_path();
  lock_ = open_fd(lock, O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
  if (::flock(lock_.get(), LOCK_EX | LOCK_NB) < 0) {
    int err = errno;
    lock_.reset();
    if (err == EWOULDBLOCK)
      throw Error("control socket '" + path_ + "' is in use by another daemon (lock '" + lock +
                  "' is held)");
    throw SysError("flock", lock, err);
  }
  // We hold the lock, so whatever socket is at the path was left by a dead daemon.
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      lock_.reset();
      throw Error("control socket path '" + path_ + "' exists and is not a socket");
    }
    check(::unlink(path_.c_str()), "unlink", path_);
  }
  boost::system::error_code ec;
  acceptor_.open(stream_protocol(), ec);
  if (!ec) acceptor_.bind(stream_protocol::endpoint(path_), ec);
  if (ec) {
    acceptor_.close();
    lock_.reset();
    throw SysError("bind", path_, ec.value());
  }
  bound_ = true;
  check(::chmod(path_.c_str(), 0600), "chmod", path_);
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw SysError("listen", path_, ec.value());
  accept();
}

void ControlServer::accept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, stream_protocol::socket sock) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;  // closing
    if (!ec) {
      bool over = sessions_->size() >= limits_.max_connections;
      std::make_shared<Session>(std::move(sock), *this)->start(over);
      accept();
      return;
    }
    // EMFILE and friends: retry after a pause instead of spinning on the error.
    log_warn("control: accept: {}, retrying in 100ms", ec.message());
    retry_.expires_after(std::chrono::milliseconds(100));
    retry_.async_wait([this](const boost::system::error_code& e) {
      if (!e && acceptor_.is_open()) accept();
    });
  });
}

void ControlServer::close() {
  boost::system::error_code ec;
  if (acceptor_.is_open()) acceptor_.close(ec);
  retry_.cancel();
  for (Session* s : std::set<Session*>(*sessions_)) s->shutdown();
  if (bound_) {
    ::unlink(path_.c_str());
    bound_ = false;
  }
  lock_.reset();
}

}  // namespace goodcop::supervisor
