#include "kernel/init.h"

#include <poll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "base/error.h"
#include "base/fd.h"

namespace goodcop::kernel {
namespace {
void noop_handler(int) {}
}  // namespace

sigset_t init_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
  return set;
}

void prepare_init_signals() {
  sigset_t set = init_signals();
  check(::sigprocmask(SIG_BLOCK, &set, nullptr), "sigprocmask");
  struct sigaction sa {};
  sa.sa_handler = noop_handler;
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) check(::sigaction(s, &sa, nullptr), "sigaction");
}

void restore_child_signals() {
  struct sigaction sa {};
  sa.sa_handler = SIG_DFL;
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) ::sigaction(s, &sa, nullptr);
  sigset_t set = init_signals();
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
}

int run_init(pid_t command, int console_master) {
  sigset_t set = init_signals();
  UniqueFd sfd(check(::signalfd(-1, &set, SFD_CLOEXEC), "signalfd"));
  pollfd fds[2] = {{sfd.get(), POLLIN, 0}, {console_master, POLLIN, 0}};
  for (;;) {
    if (::poll(fds, console_master >= 0 ? 2 : 1, -1) < 0) {
      if (errno == EINTR) continue;
      check(-1, "poll");
    }
    if (console_master >= 0 && (fds[1].revents & POLLIN) != 0) {
      char buf[4096];
      ssize_t n = ::read(console_master, buf, sizeof buf);
      if (n > 0 && ::write(STDERR_FILENO, buf, static_cast<size_t>(n)) < 0) {
        // stderr gone: keep draining so writers to /dev/console never block.
      }
    } else if (console_master >= 0 && (fds[1].revents & (POLLHUP | POLLERR)) != 0) {
      fds[1].fd = -1;  // no slave open right now; poll ignores negative fds
    }
    if ((fds[0].revents & POLLIN) == 0) continue;
    signalfd_siginfo si{};
    if (::read(sfd.get(), &si, sizeof si) != static_cast<ssize_t>(sizeof si)) continue;
    if (si.ssi_signo != SIGCHLD) {
      ::kill(command, static_cast<int>(si.ssi_signo));
      continue;
    }
    // Reap everything: orphans re-parented to us and, maybe, the command.
    for (;;) {
      int st = 0;
      pid_t p = ::waitpid(-1, &st, WNOHANG);
      if (p <= 0) break;
      if (p == command) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
  }
}

void kill_and_reap_all() {
  // ESRCH when nothing else is left; EPERM can't be told apart from partial success, and
  // a process we could not kill would keep waitpid below from returning: CAP_KILL is kept
  // for this (setup.cc).
  ::kill(-1, SIGKILL);
  for (;;) {
    int st = 0;
    if (::waitpid(-1, &st, 0) >= 0) continue;
    if (errno == EINTR) continue;
    return;  // ECHILD: no child left
  }
}

}  // namespace goodcop::kernel
