// goodcop-jail-helper: the jail setup modes (kernel/setup.cc) in a small binary of their own.
//
// start() and enter() exec the setup mode once or twice per jail, and the jail's init runs
// from it. goodcop itself links yaml-cpp, libarchive, OpenSSL and more: each exec of it spent
// milliseconds in the dynamic loader before doing anything. This binary links only the recipe
// and is static (static-pie), so it starts without a loader, and its sealed memfd copy
// (CVE-2019-5736, kernel/jail.h Helper) is a fraction of goodcop's size.
#include <cstdio>

#include "kernel/jail.h"

int main(int argc, char** argv) {
  if (auto rc = goodcop::kernel::run_internal_mode(argc, argv)) return *rc;
  std::fputs("goodcop-jail-helper: internal to goodcop, not for running by hand\n", stderr);
  return 2;
}
