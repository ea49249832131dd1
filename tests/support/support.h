#pragma once
// Helpers shared by every test binary: root checks that skip with a reason
// (but fail in CI), temporary trees that remove themselves, running the goodcop
// binary and capturing its output.

#include <sys/types.h>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace goodcop::test {

// True when the test may use root-only kernel features. Otherwise prints
// "skipped: needs root" and returns false; under CI=true it fails instead,
// because CI runs as root and a skipped privileged test would hide a regression.
bool have_root();

// Use as the first line of a root-only TEST_CASE (tag it [root] too).
#define GOODCOP_REQUIRE_ROOT() \
  do {                         \
    if (!::goodcop::test::have_root()) return; \
  } while (0)

// A fresh directory (mkdtemp under `base`, default $TMPDIR or /tmp), removed with
// everything below it on destruction without following symlinks or crossing mounts.
class TempDir {
 public:
  explicit TempDir(const std::string& base = "");
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

// Removes a tree without following symlinks or crossing into other filesystems.
void remove_tree(const std::string& path);

// Writes `data` to `path` (creating or truncating) with `mode`.
void write_text(const std::string& path, const std::string& data, unsigned mode = 0644);

// The result of running a command.
struct RunResult {
  int status = -1;  // exit code, or 128+signal
  std::string out;
  std::string err;
};

// Reads two pipes (a child's stdout and stderr) until both reach EOF, without deadlocking
// on either. Throws SysError when poll fails.
void drain_pipes(int out_fd, int err_fd, std::string& out, std::string& err);

// Runs argv (argv[0] is a path, not searched) with stdin from `input`, capturing
// stdout and stderr. Fails the test if the command cannot be started.
RunResult run(const std::vector<std::string>& argv, const std::string& input = "");

// Runs the goodcop binary under test with the given arguments.
RunResult run_goodcop(const std::vector<std::string>& args, const std::string& input = "");

// The pids of every process /proc lists now (numeric entries only).
std::vector<pid_t> process_ids();

// The source tree (for test data and docs/examples).
inline std::string source_dir() { return GOODCOP_SOURCE_DIR; }

}  // namespace goodcop::test
