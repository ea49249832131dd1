#pragma once
// The jail's network: a veth pair for jails with their own addresses, loopback for `none`,
// and an `unreachable` route guard for tests. rtnetlink only (kernel/netlink.h), never `ip`.
//
// Routing scheme (one per jail, no bridge, no NAT, no proxy ARP/NDP):
//   host side `gc-NAME`: 169.254.0.1/32 (when the jail has IPv4) and fe80::1/64 NODAD (when
//     it has IPv6), up, plus one route per jail address: `ADDR/32 dev gc-NAME scope link`
//     (`ADDR/128` for IPv6).
//   jail side `eth0` (created directly inside the jail's netns): up, the jail's addresses
//     (IPv6 with IFA_F_NODAD, usable at once), `default via 169.254.0.1 dev eth0 onlink` and
//     `default via fe80::1 dev eth0`; lo up.
// The jail resolves one neighbour only: the host side's own address, which the host answers
// because it is configured on the receiving interface (so arp_ignore/NDP's per-interface rule
// do not matter). The host reaches the jail through the /32 and /128 routes; whatever else the
// host routes (forwarding, NAT) is the operator's choice. Give jail addresses as /32 and /128
// (the default without a prefix): with a wider prefix the jail considers its neighbours
// on-link and nothing answers for them.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "base/fd.h"
#include "kernel/netlink.h"

namespace goodcop {

// The addresses a jail holds on its eth0.
struct NetSpec {
  std::vector<Address> addrs;
};

// The jail side's interface name inside its netns.
inline constexpr const char* kJailIfname = "eth0";
// The host side's addresses, the jail's default gateways.
inline constexpr const char* kHostGateway4 = "169.254.0.1";
inline constexpr const char* kHostGateway6 = "fe80::1";

// Opens /proc/PID/ns/net (O_CLOEXEC). Throws SysError.
UniqueFd open_netns(pid_t pid);

// The host-side interface name for jail `name`: "gc-" + name when that fits IFNAMSIZ (15
// chars), else "gc-" + the first 4 chars + "-" + 7 hex digits of a hash of the name, so it
// is deterministic (clean_stale finds it). Throws Error for a name that is empty or holds
// characters other than [A-Za-z0-9_.-].
std::string veth_host_name(const std::string& jail_name);

// Sets lo up inside the netns `netns_fd` (network mode `none`; the jail's 127.0.0.1 is its own).
void bring_up_loopback(int netns_fd);

// The owner of a jail's veth pair and host routes. Move-only.
class Veth {
 public:
  // Creates gc-NAME / eth0 with eth0 inside `netns_fd`, and configures both sides as above
  // (lo is brought up too). On failure everything made so far is deleted, then it throws
  // (SysError "rtnetlink RTM_xxx" with the interface name as path; Error on bad input:
  // no addresses, duplicate address). Throws SysError EEXIST when gc-NAME exists (call
  // clean_stale first after a crash). `netns_fd` must be opened after the child unshared its
  // netns (Error "the target network namespace is the host's own" otherwise).
  static Veth create(const std::string& name, int netns_fd, const NetSpec& spec);
  // Deletes a leftover gc-NAME link of a crashed run (its routes and peer go with it).
  // Returns true when one was deleted.
  static bool clean_stale(const std::string& name);
  // Takes ownership of the gc-NAME veth an earlier process created for the jail whose
  // network namespace is `netns_fd` (the daemon adopting a running jail), or nullopt when
  // there is no such link or its peer is not that namespace's eth0. Touches nothing.
  static std::optional<Veth> open_existing(const std::string& name, int netns_fd);

  Veth(Veth&& o) noexcept;
  Veth& operator=(Veth&& o) noexcept;
  Veth(const Veth&) = delete;
  Veth& operator=(const Veth&) = delete;
  ~Veth();

  const std::string& host_name() const noexcept { return host_name_; }
  int host_index() const noexcept { return host_index_; }
  // Deletes the host link (the kernel then deletes the peer and every route through the
  // link). Idempotent; the destructor calls it. A link the jail's dying netns already took
  // with it is not an error.
  void destroy();

 private:
  Veth() = default;
  std::string host_name_;
  int host_index_ = 0;
};

// Installs `unreachable PREFIX` in the host's main table for its lifetime, so traffic to a
// test prefix (198.18.0.0/15, 2001:db8::/32) never leaves the machine through the default
// route; more specific routes (a jail's /32) still win. When an equal route already exists it
// is left alone and not removed (never touch what we did not create).
class UnreachableRoute {
 public:
  explicit UnreachableRoute(const Address& prefix);
  UnreachableRoute(const UnreachableRoute&) = delete;
  UnreachableRoute& operator=(const UnreachableRoute&) = delete;
  ~UnreachableRoute();
  // True when this guard added the route (and will remove it).
  bool owned() const noexcept { return owned_; }

 private:
  Address prefix_;
  bool owned_ = false;
};

}  // namespace goodcop
