#include "base/unix_fds.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "base/error.h"

using goodcop::UniqueFd;

namespace {

struct SocketPair {
  UniqueFd a, b;
  SocketPair() {
    int sv[2];
    goodcop::check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), "socketpair", "");
    a.reset(sv[0]);
    b.reset(sv[1]);
  }
};

struct Pipe {
  UniqueFd r, w;
  Pipe() {
    int p[2];
    goodcop::check(::pipe2(p, O_CLOEXEC), "pipe2", "");
    r.reset(p[0]);
    w.reset(p[1]);
  }
};

// Descriptors open in this process (to see that none leaked).
int open_fds() {
  int n = 0;
  for (int fd = 0; fd < 1024; ++fd)
    if (::fcntl(fd, F_GETFD) >= 0) ++n;
  return n;
}

}  // namespace

TEST_CASE("unix_fds: descriptors ride with the bytes and arrive close-on-exec", "[base]") {
  SocketPair s;
  Pipe p;
  int fds[] = {p.w.get(), p.r.get()};
  std::string hello = "hello";
  REQUIRE(goodcop::send_with_fds(s.a.get(), hello, fds) == 5);
  char buf[16];
  goodcop::Received r = goodcop::recv_with_fds(s.b.get(), buf, 3);
  REQUIRE(r.n == 5);
  CHECK(std::string(buf, 5) == "hello");
  CHECK_FALSE(r.truncated);
  REQUIRE(r.fds.size() == 2);
  CHECK((::fcntl(r.fds[0].get(), F_GETFD) & FD_CLOEXEC) != 0);
  // The received write end is the pipe's.
  REQUIRE(::write(r.fds[0].get(), "x", 1) == 1);
  char c = 0;
  REQUIRE(::read(p.r.get(), &c, 1) == 1);
  CHECK(c == 'x');
}

TEST_CASE("unix_fds: more descriptors than room are dropped by the kernel, not installed",
          "[base]") {
  SocketPair s;
  Pipe p;
  int fds[] = {p.w.get(), p.w.get(), p.w.get(), p.w.get(), p.w.get(), p.w.get()};
  REQUIRE(goodcop::send_with_fds(s.a.get(), std::string("x"), fds) == 1);
  int before = open_fds();
  char buf[4];
  goodcop::Received r = goodcop::recv_with_fds(s.b.get(), buf, 3);
  CHECK(r.n == 1);
  CHECK(r.truncated);
  // Room for 3 is room for 4: CMSG_SPACE rounds up to 8 bytes (callers count what came).
  CHECK(r.fds.size() == 4);
  CHECK(open_fds() == before + static_cast<int>(r.fds.size()));
  r.fds.clear();
  CHECK(open_fds() == before);
  // EOF and a non-blocking empty read come back as recvmsg's own results.
  s.a.reset();
  CHECK(goodcop::recv_with_fds(s.b.get(), buf, 3).n == 0);
  SocketPair q;
  goodcop::Received e = goodcop::recv_with_fds(q.b.get(), buf, 3, MSG_DONTWAIT);
  CHECK(e.n == -1);
  CHECK(errno == EAGAIN);
}
