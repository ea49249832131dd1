#pragma once
// Helpers for the resource tests (cgroups, veth): forked children that wait for a "go" and
// report over a pipe, and CPU time from /proc/PID/stat.

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <string>

#include "base/error.h"
#include "base/fd.h"

namespace goodcop::test {

// A forked child. The body runs in the child with (in, out): `in` delivers the parent's
// messages, `out` carries the child's; its return value is the exit code. On destruction a
// child still running is SIGKILLed and reaped.
class Child {
 public:
  Child(std::function<int(int in, int out)> body, int unshare_flags = 0) {
    int to[2], from[2];
    check(::pipe2(to, O_CLOEXEC), "pipe2");
    check(::pipe2(from, O_CLOEXEC), "pipe2");
    pid_ = check(::fork(), "fork");
    if (pid_ == 0) {
      ::close(to[1]);
      ::close(from[0]);
      ::signal(SIGPIPE, SIG_DFL);
      int rc = 120;
      if (unshare_flags != 0) {
        if (::unshare(unshare_flags) < 0) ::_exit(121);
        write_line(from[1], "unshared");  // the parent may now open /proc/PID/ns/*
      }
      try {
        rc = body(to[0], from[1]);
      } catch (...) {
        rc = 122;
      }
      ::_exit(rc);
    }
    ::close(to[0]);
    ::close(from[1]);
    to_ = UniqueFd(to[1]);
    from_ = UniqueFd(from[0]);
    if (unshare_flags != 0 && recv() != "unshared") throw Error("test child: unshare failed");
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      int st;
      ::waitpid(pid_, &st, 0);
    }
  }
  pid_t pid() const { return pid_; }
  // Sends one message (a line) to the child.
  void send(const std::string& msg) { write_all(to_.get(), msg + "\n", "child pipe"); }
  // Reads one line from the child ("" at EOF).
  std::string recv() { return read_line(from_.get()); }
  // Waits; returns the raw wait status.
  int wait() {
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    return st;
  }

  // Reads one line from fd ("" at EOF); for use in the child's body as well.
  static std::string read_line(int fd) {
    std::string line;
    char c;
    for (;;) {
      ssize_t n = ::read(fd, &c, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || c == '\n') return line;
      line += c;
    }
  }
  // Writes one line to fd from the child's body (no allocation-free guarantee needed: the
  // test process is single-threaded when it forks).
  static void write_line(int fd, const std::string& s) {
    std::string l = s + "\n";
    (void)!::write(fd, l.data(), l.size());
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  UniqueFd to_, from_;
};

// utime + stime of `pid` in clock ticks, from /proc/PID/stat (fields 14 and 15).
inline unsigned long long cpu_ticks(pid_t pid) {
  std::string s = read_file("/proc/" + std::to_string(pid) + "/stat");
  size_t p = s.rfind(')');  // comm may hold spaces and parentheses
  size_t field = 2;
  unsigned long long ut = 0, st = 0;
  for (size_t i = p + 1; i < s.size(); ++i) {
    if (s[i] == ' ') {
      ++field;
      if (field == 14) ut = std::strtoull(s.c_str() + i + 1, nullptr, 10);
      if (field == 15) st = std::strtoull(s.c_str() + i + 1, nullptr, 10);
    }
  }
  return ut + st;
}

// True when `pid` is gone or a zombie (dead, not yet reaped by its parent).
inline bool dead(pid_t pid) {
  try {
    std::string s = read_file("/proc/" + std::to_string(pid) + "/stat");
    size_t p = s.rfind(')');
    return p + 2 < s.size() && (s[p + 2] == 'Z' || s[p + 2] == 'X');
  } catch (const SysError&) {
    return true;
  }
}

// Waits up to 2 s for `pid` to be dead (it leaves its cgroup in do_exit() a moment before it
// becomes a zombie); returns dead(pid).
inline bool wait_dead(pid_t pid) {
  for (int i = 0; i < 200 && !dead(pid); ++i) ::usleep(10000);
  return dead(pid);
}

}  // namespace goodcop::test
