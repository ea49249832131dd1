#pragma once
// Starting helper programs from a multi-threaded process. The daemon calls backups/
// from pool threads while other threads allocate; after a plain fork() only
// async-signal-safe calls are allowed (a lock another thread held at fork time is held
// forever in the child, malloc's included). So a helper is started with posix_spawn
// (glibc: clone(CLONE_VM|CLONE_VFORK), then only dup2/sigaction/exec in the child) and
// everything it needs — argv, fds, options in a memfd — is prepared before.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace goodcop::backups {

// The goodcop binary that serves the internal helper modes (run_internal_mode):
// "/proc/self/exe" unless set_helper_binary() named another one. Tests link backups/
// into a binary that is not goodcop and name GOODCOP_BINARY here.
std::string helper_binary();

// Sets the binary helper_binary() returns; call once at startup, before any thread.
void set_helper_binary(const std::string& path);

// How to start a program.
struct SpawnOptions {
  std::vector<int> pass_fds;  // kept open (same numbers) across exec; the rest is CLOEXEC
  int stdin_fd = -1;          // -1: /dev/null
  int stdout_fd = -1;         // -1: inherited
  int stderr_fd = -1;         // -1: inherited
};

// Starts argv (argv[0] is the path to run, never searched in PATH) with the default
// signal mask and dispositions. Throws SysError("posix_spawn", argv[0], err).
pid_t spawn_program(const std::vector<std::string>& argv, const SpawnOptions& opts = {});

// Waits for pid; returns its exit code, or 128+N when killed by signal N. Throws SysError.
int wait_program(pid_t pid, const std::string& what);

// What run_program saw.
struct ProgramResult {
  int status = 0;      // exit code, or 128+signal
  std::string output;  // stdout and stderr together, at most 64 KiB
};

// Runs argv to completion with stdin from /dev/null, capturing its output.
ProgramResult run_program(const std::vector<std::string>& argv);

// The internal helper modes of the goodcop binary (`goodcop __backups-extract ...`):
// returns the exit code when argv names one, nullopt otherwise. Called first thing in
// main(), before any thread exists.
std::optional<int> run_internal_mode(int argc, char** argv);

}  // namespace goodcop::backups
