#pragma once
// The jail's seccomp filter: everything is allowed except the known escape hatches, which
// fail with EPERM. The list and the reason for each entry are in docs/jail.md; keep both in
// sync (seccomp_rules.cc).
//
// The rules are libseccomp's, compiled once at build time (seccomp_gen.cc): compiling them
// cost ~0.45 ms of CPU at every jail start, inside the jail's init, before its command runs
// (docs/jail.md "Start cost").

#include <linux/filter.h>

#include <span>
#include <vector>

namespace goodcop::kernel {

// The filter as built into this binary (seccomp.cc, from the build's seccomp_gen).
std::span<const sock_filter> builtin_seccomp_filter();

// Loads the built-in filter into the calling process (inherited by its children, kept
// across execve). Requires no_new_privs or CAP_SYS_ADMIN; the jail sets no_new_privs first.
void load_seccomp_filter();

// Compiles the rules with libseccomp, for the native ABI only: what the build writes into
// builtin_seccomp_filter(), and what the tests compare it with (seccomp_rules.cc).
std::vector<sock_filter> compile_seccomp_filter();

}  // namespace goodcop::kernel
