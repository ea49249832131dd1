// Loads the jail's seccomp filter, compiled from seccomp_rules.cc by libseccomp when goodcop
// was built (seccomp_gen.cc): no rule is compiled at jail start.
#include "kernel/seccomp.h"

#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/error.h"

namespace goodcop::kernel {
namespace {

// kSeccompFilter: the BPF program, generated at build time.
#include "kernel_seccomp_filter.inc"

}  // namespace

std::span<const sock_filter> builtin_seccomp_filter() { return kSeccompFilter; }

void load_seccomp_filter() {
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(std::size(kSeccompFilter));
  prog.filter = const_cast<sock_filter*>(kSeccompFilter);
  check(static_cast<int>(::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)), "seccomp",
        "SECCOMP_SET_MODE_FILTER");
}

}  // namespace goodcop::kernel
