#include "backups/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

#include "base/error.h"
#include "base/fd.h"
#include "base/scope_exit.h"

extern char** environ;

namespace goodcop::backups {
namespace {

std::mutex& binary_mutex() {
  static std::mutex m;
  return m;
}

std::string& binary_path() {
  static std::string path = "/proc/self/exe";
  return path;
}

}  // namespace

std::string helper_binary() {
  std::lock_guard lock(binary_mutex());
  return binary_path();
}

void set_helper_binary(const std::string& path) {
  std::lock_guard lock(binary_mutex());
  binary_path() = path;
}

pid_t spawn_program(const std::vector<std::string>& argv, const SpawnOptions& opts) {
  if (argv.empty()) throw Error("spawn: empty command");
  // Everything the child touches is built here, before the clone.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  UniqueFd null_in;
  int in = opts.stdin_fd;
  if (in < 0) {
    null_in = open_fd("/dev/null", O_RDONLY);
    in = null_in.get();
  }

  posix_spawn_file_actions_t fa;
  check_errno(::posix_spawn_file_actions_init(&fa), "posix_spawn_file_actions_init");
  ScopeExit drop_fa([&] { ::posix_spawn_file_actions_destroy(&fa); });
  check_errno(::posix_spawn_file_actions_adddup2(&fa, in, 0), "posix_spawn dup2", "stdin");
  if (opts.stdout_fd >= 0)
    check_errno(::posix_spawn_file_actions_adddup2(&fa, opts.stdout_fd, 1), "posix_spawn dup2",
                "stdout");
  if (opts.stderr_fd >= 0)
    check_errno(::posix_spawn_file_actions_adddup2(&fa, opts.stderr_fd, 2), "posix_spawn dup2",
                "stderr");
  // dup2 of an fd onto itself clears its FD_CLOEXEC in the child (glibc >= 2.29, POSIX
  // 2024): exactly the fds passed survive the exec, every other goodcop fd is O_CLOEXEC.
  for (int fd : opts.pass_fds) {
    if (fd <= 2) throw Error("spawn: cannot pass fd " + std::to_string(fd) + " (stdio)");
    check_errno(::posix_spawn_file_actions_adddup2(&fa, fd, fd), "posix_spawn dup2",
                std::to_string(fd));
  }

  posix_spawnattr_t at;
  check_errno(::posix_spawnattr_init(&at), "posix_spawnattr_init");
  ScopeExit drop_at([&] { ::posix_spawnattr_destroy(&at); });
  // A pool thread's blocked signals and the daemon's handlers must not leak into the helper.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  check_errno(::posix_spawnattr_setsigmask(&at, &none), "posix_spawnattr_setsigmask");
  check_errno(::posix_spawnattr_setsigdefault(&at, &all), "posix_spawnattr_setsigdefault");
  check_errno(::posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF),
              "posix_spawnattr_setflags");

  pid_t pid = -1;
  int err = ::posix_spawn(&pid, args[0], &fa, &at, args.data(), environ);
  if (err != 0) throw SysError("posix_spawn", argv[0], err);
  return pid;
}

int wait_program(pid_t pid, const std::string& what) {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) throw SysError("waitpid", what, errno);
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

ProgramResult run_program(const std::vector<std::string>& argv) {
  int p[2];
  check(::pipe2(p, O_CLOEXEC), "pipe2", argv.at(0));
  UniqueFd rd(p[0]), wr(p[1]);
  SpawnOptions o;
  o.stdout_fd = wr.get();
  o.stderr_fd = wr.get();
  pid_t pid = spawn_program(argv, o);
  wr.reset();
  ProgramResult r;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    size_t room = (64u << 10) - std::min<size_t>(r.output.size(), 64u << 10);
    r.output.append(buf, std::min(room, static_cast<size_t>(n)));
  }
  r.status = wait_program(pid, argv[0]);
  return r;
}

}  // namespace goodcop::backups
