#pragma once
// Brings "lo" up in the calling process's network namespace (a fresh one has it down):
// the jail's 127.0.0.1 is its own.

namespace goodcop::kernel {
void bring_loopback_up();
}  // namespace goodcop::kernel
