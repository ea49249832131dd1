// The jail's seccomp filter as rules for libseccomp, compiled to a BPF program. This runs at
// build time (seccomp_gen.cc writes the program into the helper and goodcop, seccomp.cc loads
// it) and in the tests, which check that the built-in program is what these rules compile to.
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "base/fd.h"
#include "base/scope_exit.h"
#include "kernel/seccomp.h"

namespace goodcop::kernel {
namespace {

// Refused outright with EPERM (docs/jail.md explains each group).
constexpr const char* kRefused[] = {
    // The filesystem view: mounts would undo pivot_root, the masks on /proc, read-only.
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsmount",
    "fsconfig",
    "fspick",
    "mount_setattr",
    // Kernel code and the machine itself.
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "swapon",
    "swapoff",
    "iopl",
    "ioperm",
    // The host's clock is shared by every jail.
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "stime",
    // File handles bypass the mount a path came from (the "shocker" escape).
    "open_by_handle_at",
    "name_to_handle_at",
    // Large kernel attack surface with a history of privilege escalations.
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "keyctl",
    "add_key",
    "request_key",
    "modify_ldt",
    "uselib",
    "lookup_dcookie",
    "nfsservctl",
    "_sysctl",
    "sysfs",
    "ustat",
    "vhangup",
    "acct",
    "quotactl",
    "quotactl_fd",
    "syslog",
    "fanotify_init",
    // Namespaces: a new user namespace hands out every capability again.
    "unshare",
    "setns",
    // Reaching into other processes' memory and files (goodcop's init included).
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_getfd",
    "kcmp",
};

void rule(scmp_filter_ctx ctx, int nr, unsigned count, const scmp_arg_cmp* args, int err,
          const char* name) {
  check_errno(
      seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(static_cast<uint32_t>(err)), nr, count, args),
      "seccomp_rule_add", name);
}

}  // namespace

std::vector<sock_filter> compile_seccomp_filter() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) throw SysError("seccomp_init", "", ENOMEM);
  ScopeExit release([&] { seccomp_release(ctx); });
  // Only the native ABI: a syscall made through another one (int 0x80 on x86_64, x32)
  // uses other numbers the list above does not cover, so the process is killed.
  check_errno(seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS),
              "seccomp_attr_set", "badarch");

  for (const char* name : kRefused) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    rule(ctx, nr, 0, nullptr, EPERM, name);
  }

  // clone(2) with a namespace flag. clone3 passes its flags in memory a filter cannot
  // read, so it gets ENOSYS and libc falls back to clone (what glibc expects).
  int clone_nr = seccomp_syscall_resolve_name("clone");
  for (unsigned long flag : {CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
                             CLONE_NEWNET, CLONE_NEWCGROUP}) {
    scmp_arg_cmp a = SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag);
    rule(ctx, clone_nr, 1, &a, EPERM, "clone");
  }
  int clone3_nr = seccomp_syscall_resolve_name("clone3");
  if (clone3_nr != __NR_SCMP_ERROR) rule(ctx, clone3_nr, 0, nullptr, ENOSYS, "clone3");

  // mknod of devices (a block device node is the raw host disk); fifos and sockets are fine.
  for (const char* name : {"mknod", "mknodat"}) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;
    unsigned mode_arg = name[5] == 'a' ? 2 : 1;
    for (unsigned type : {S_IFCHR, S_IFBLK}) {
      scmp_arg_cmp a{mode_arg, SCMP_CMP_MASKED_EQ, S_IFMT, type};
      rule(ctx, nr, 1, &a, EPERM, name);
    }
  }

  // TIOCSTI pushes bytes into a terminal's input: with a host terminal as stdin, that is
  // typing commands into the admin's shell (CVE-2016-7545 style). TIOCLINUX can too.
  int ioctl_nr = seccomp_syscall_resolve_name("ioctl");
  for (unsigned long req : {static_cast<unsigned long>(TIOCSTI), 0x541CUL /* TIOCLINUX */}) {
    scmp_arg_cmp a = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xFFFFFFFFUL, req);
    rule(ctx, ioctl_nr, 1, &a, EPERM, "ioctl");
  }

  // libseccomp 2.5 exports to an fd only (seccomp_export_bpf_mem is 2.6).
  UniqueFd mem(static_cast<int>(::memfd_create("goodcop-seccomp", MFD_CLOEXEC)));
  check(mem.get(), "memfd_create", "goodcop-seccomp");
  check_errno(seccomp_export_bpf(ctx, mem.get()), "seccomp_export_bpf");
  const std::string bytes = read_file("/proc/self/fd/" + std::to_string(mem.get()));
  if (bytes.empty() || bytes.size() % sizeof(sock_filter) != 0)
    throw Error("seccomp_export_bpf: a program of " + std::to_string(bytes.size()) + " bytes");
  std::vector<sock_filter> prog(bytes.size() / sizeof(sock_filter));
  std::memcpy(prog.data(), bytes.data(), bytes.size());
  return prog;
}

}  // namespace goodcop::kernel
