#include "tests/support/support.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/error.h"
#include "base/fd.h"

namespace goodcop::test {

bool have_root() {
  if (::geteuid() == 0) return true;
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string(ci) == "true") {
    FAIL("needs root, and CI runs as root: refusing to skip");
  }
  WARN("skipped: needs root");
  return false;
}

TempDir::TempDir(const std::string& base) {
  std::string dir = base;
  if (dir.empty()) {
    const char* t = std::getenv("TMPDIR");
    dir = (t != nullptr && *t != '\0') ? t : "/tmp";
  }
  std::string tmpl = dir + "/goodcop-test.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw SysError("mkdtemp", tmpl, errno);
  path_ = tmpl;
}

TempDir::~TempDir() {
  try {
    remove_tree(path_);
  } catch (...) {
  }
}

void remove_tree(const std::string& path) {
  // Make every directory writable first: a test may leave 0500 dirs behind.
  ::nftw(
      path.c_str(),
      [](const char* p, const struct stat* st, int type, struct FTW*) {
        if (type == FTW_D && (st->st_mode & 0700) != 0700) ::chmod(p, st->st_mode | 0700);
        return 0;
      },
      64, FTW_PHYS | FTW_MOUNT);
  ::nftw(
      path.c_str(),
      [](const char* p, const struct stat*, int type, struct FTW*) {
        if (type == FTW_DP) ::rmdir(p);
        else ::unlink(p);
        return 0;
      },
      64, FTW_PHYS | FTW_MOUNT | FTW_DEPTH);
}

void write_text(const std::string& path, const std::string& data, unsigned mode) {
  UniqueFd fd = open_fd(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode);
  write_all(fd.get(), data, path);
  check(::fchmod(fd.get(), mode), "fchmod", path);
}

void drain_pipes(int out_fd, int err_fd, std::string& out, std::string& err) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  int open_count = 2;
  char buf[65536];
  while (open_count > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      throw SysError("poll", "", errno);
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        fds[i].fd = -1;
        --open_count;
      } else {
        (i == 0 ? out : err).append(buf, static_cast<size_t>(n));
      }
    }
  }
}

RunResult run(const std::vector<std::string>& argv, const std::string& input) {
  int in[2], out[2], err[2];
  REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  UniqueFd win(in[1]), rout(out[0]), rerr(err[0]);
  // Small inputs fit the pipe buffer; tests never feed more than that.
  if (!input.empty()) write_all(win.get(), input, "stdin");
  win.reset();
  RunResult r;
  drain_pipes(rout.get(), rerr.get(), r.out, r.err);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

RunResult run_goodcop(const std::vector<std::string>& args, const std::string& input) {
  std::vector<std::string> argv{GOODCOP_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, input);
}

std::vector<pid_t> process_ids() {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  REQUIRE(d != nullptr);
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid > 0 && *end == '\0') out.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(d);
  return out;
}

}  // namespace goodcop::test
