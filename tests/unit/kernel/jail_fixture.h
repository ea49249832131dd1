#pragma once
// Shared by the jail tests: a busybox rootfs on a tmpfs built once per test binary, the
// helper (the goodcop binary under test), and running a jail with its output captured.

#include <string>
#include <vector>

#include "kernel/jail.h"

namespace goodcop::test {

// /bin/busybox (Debian's busybox-static) with every applet, /bin/kernel_probe (static),
// /bin/suid_probe (the probe, setuid root), empty /proc /dev /tmp /sys /mnt /data, and an
// /etc/passwd. On its own tmpfs, unmounted when the test binary exits.
const std::string& jail_rootfs();

// The Helper for GOODCOP_BINARY: goodcop-jail-helper next to it (the test binary itself has
// no setup mode).
const kernel::Helper& jail_helper();

// A spec for jail_rootfs() running argv, named "t-<pid>".
kernel::JailSpec jail_spec(std::vector<std::string> argv);

struct JailRun {
  int status = -1;
  std::string out;
  std::string err;
};

// Starts the jail with stdout/stderr captured and stdin /dev/null, waits for it.
JailRun run_jail(kernel::JailSpec spec);

// Reads from fd until EOF.
std::string read_until_eof(int fd);

// The number of lines of /proc/self/mountinfo (a jail must leave it unchanged).
std::vector<std::string> host_mounts();

}  // namespace goodcop::test
