// goodcop: the command users run. It is a small binary (the kernel layer, the jail verb and
// the C++ runtime; libmnl and libc shared) that runs `goodcop jail` itself and execs
// goodcop-core, from its own directory, for every other verb.
//
// Why two binaries (issue 3: a jail starts no slower than bubblewrap; docs/jail.md "Start
// cost"): goodcop-core links OpenSSL, libarchive, yaml-cpp and Boost statically, ~370 KB of
// relocated pointer tables (vtables, OpenSSL's method and object tables). As a PIE, the
// loader writes every one of those pages at each start, ~100 copy-on-write faults and ~1 ms
// of CPU before main(), which `goodcop jail` would pay for code it never runs. The front has
// ~30 KB of them. The exec costs the other verbs ~1 ms once, nothing a person or the daemon
// notices.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "kernel/jail.h"
#include "watchdog/cli.h"

namespace {

constexpr const char* kCoreName = "goodcop-core";

// The directory of this binary (symlinks resolved: /proc/self/exe is the file itself).
std::string own_dir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  std::string path(buf, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/'));
}

[[noreturn]] void exec_core(char** argv) {
  const std::string dir = own_dir();
  if (dir.empty()) {
    std::cerr << "goodcop: readlink '/proc/self/exe': " << std::strerror(errno) << "\n";
    ::_exit(goodcop::cli::kExitFailure);
  }
  const std::string core = dir + "/" + kCoreName;
  ::execv(core.c_str(), argv);
  std::cerr << "goodcop: execv '" << core << "': " << std::strerror(errno) << " (goodcop-core "
            << "is installed next to goodcop; only `goodcop jail` runs without it)\n";
  ::_exit(goodcop::cli::kExitFailure);
}

}  // namespace

int main(int argc, char** argv) {
  // First: the jail setup modes, which this binary serves when goodcop-jail-helper is not
  // installed next to it (kernel/jail.h, Helper).
  if (auto rc = goodcop::kernel::run_internal_mode(argc, argv)) return *rc;
  if (argc < 2 || std::strcmp(argv[1], "jail") != 0) exec_core(argv);
  const int rc = goodcop::cli::run_jail_cli(argc, argv);
  // Leave without running static destructors and atexit handlers: they only free memory the
  // kernel takes back anyway, and their code faults in pages between the jail's report and
  // exit_group (~0.5 ms under perf trace). Not in the ASan build, whose leak check runs at exit.
#if defined(__SANITIZE_ADDRESS__)
  return rc;
#else
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  ::_exit(rc);
#endif
}
