#pragma once
// The jail's seccomp filter (libseccomp): everything is allowed except the known escape
// hatches, which fail with EPERM. The list and the reason for each entry are in
// docs/jail.md; keep both in sync.

namespace goodcop::kernel {

// Loads the filter into the calling process (inherited by its children, kept across
// execve). Requires no_new_privs or CAP_SYS_ADMIN; the jail sets no_new_privs first.
void load_seccomp_filter();

}  // namespace goodcop::kernel
