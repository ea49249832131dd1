#include "kernel/loopback.h"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

#include "base/error.h"
#include "base/fd.h"

namespace goodcop::kernel {

void bring_loopback_up() {
  UniqueFd sock(check(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), "socket", "lo"));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  check(::ioctl(sock.get(), SIOCGIFFLAGS, &ifr), "ioctl SIOCGIFFLAGS", "lo");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  check(::ioctl(sock.get(), SIOCSIFFLAGS, &ifr), "ioctl SIOCSIFFLAGS", "lo");
}

}  // namespace goodcop::kernel
