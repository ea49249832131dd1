#pragma once
// A small rtnetlink client over libmnl: links, addresses and routes, in the network
// namespace the socket was created in (a netlink socket stays bound to the netns of its
// creator, see netlink(7)/socket(7), so a socket made on a thread that setns()'d into a jail's
// netns configures that jail from anywhere). Failures throw SysError with op
// "rtnetlink RTM_xxx" and the interface name (or the address) as path.

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/parse.h"

struct mnl_socket;

namespace goodcop {

// An IPv4 or IPv6 address with a prefix length ("198.18.0.2/32", "2001:db8::2/128").
struct Address {
  int family = 0;                   // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};  // network order; IPv4 uses the first 4
  uint8_t prefix = 0;               // 0..32 or 0..128
  // Bytes used by the family (4 or 16).
  size_t size() const noexcept { return family == AF_INET ? 4 : 16; }
  // The full-length prefix of the family (32 or 128).
  uint8_t max_prefix() const noexcept { return family == AF_INET ? 32 : 128; }
  // "198.18.0.2/24"; without the prefix when it is the full length ("198.18.0.2").
  std::string str() const;
  // The address alone, without prefix ("2001:db8::2").
  std::string ip() const;
  bool operator==(const Address&) const = default;
};

// Parses "IP" or "IP/PREFIX" (IPv4 dotted quad or IPv6 text form). Without a prefix the
// full length is used. Errors: "invalid IP address 'x'", "invalid prefix length in 'x'".
Parsed<Address> parse_address(std::string_view text);

// One link as listed by RTM_GETLINK.
struct LinkInfo {
  int index = 0;
  std::string name;
  unsigned flags = 0;     // IFF_UP, IFF_LOOPBACK, ...
  std::string kind;       // IFLA_INFO_KIND ("veth"), "" when none
  uint8_t operstate = 0;  // IFLA_OPERSTATE (IF_OPER_UP = 6)
  std::string qdisc;      // IFLA_QDISC: "noop" until the link watch has activated the device
  int peer = 0;           // IFLA_LINK: a veth's peer index (in the peer's netns), 0 when none
  // True when the link can carry packets now: operationally up and its queueing discipline
  // attached. A veth gets carrier when its second end comes up, but the kernel attaches the
  // qdisc later from the link-watch work; until then every packet (the first ARP request,
  // the first SYN) is dropped by noop_qdisc and TCP waits out a 1 s retransmission.
  bool ready() const noexcept { return operstate == 6 && !qdisc.empty() && qdisc != "noop"; }
};

// One address as listed by RTM_GETADDR.
struct AddrInfo {
  int index = 0;
  Address addr;
  unsigned flags = 0;  // IFA_F_*
};

// One route as listed or requested (main table).
struct RouteInfo {
  Address dst;                     // prefix; prefix 0 = default
  std::optional<Address> gateway;  // next hop (full-length prefix)
  int oif = 0;                     // output interface index, 0 = none
  uint8_t type = 1;                // RTN_UNICAST, RTN_UNREACHABLE, ...
  uint8_t scope = 0;               // RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, ...
  uint8_t protocol = 4;            // RTPROT_STATIC when adding
  bool onlink = false;             // RTNH_F_ONLINK: gateway reachable on oif without a route
};

// A socket subscribed to link notifications (RTNLGRP_LINK) of one network namespace, for
// waiting on the kernel's asynchronous link state changes instead of polling. Subscribe before
// querying the state, so no change between the query and the wait is missed.
class LinkMonitor {
 public:
  // Subscribes in the calling thread's netns (netns_fd < 0) or in netns_fd.
  explicit LinkMonitor(int netns_fd = -1);
  LinkMonitor(const LinkMonitor&) = delete;
  LinkMonitor& operator=(const LinkMonitor&) = delete;
  ~LinkMonitor();
  // Reads notifications until `pred` accepts one; false after `timeout_ms`.
  bool wait(const std::function<bool(const LinkInfo&)>& pred, int timeout_ms);

 private:
  mnl_socket* sock_ = nullptr;
};

// An rtnetlink socket bound to one network namespace. Move-only; not thread-safe.
class RtNetlink {
 public:
  // A socket in the calling thread's network namespace.
  static RtNetlink open();
  // A socket in the network namespace `netns_fd` (an fd of /proc/PID/ns/net), created on a
  // short-lived thread that setns()'d into it; the calling thread's netns is never changed.
  static RtNetlink open_in_netns(int netns_fd);

  RtNetlink(RtNetlink&& o) noexcept;
  RtNetlink& operator=(RtNetlink&& o) noexcept;
  RtNetlink(const RtNetlink&) = delete;
  RtNetlink& operator=(const RtNetlink&) = delete;
  ~RtNetlink();

  // The index of link `name`, or 0 when there is none.
  int link_index(const std::string& name);
  // Every link, every address, every main-table route of `family` (AF_INET/AF_INET6).
  std::vector<LinkInfo> links();
  // Link `index`; nullopt when it does not exist.
  std::optional<LinkInfo> link(int index);
  std::vector<AddrInfo> addresses();
  std::vector<RouteInfo> routes(int family);

  // Creates a veth pair: `host_name` here, `peer_name` directly inside `peer_netns_fd`
  // (so the peer's name never clashes with a host interface). Returns the host index.
  int create_veth(const std::string& host_name, const std::string& peer_name, int peer_netns_fd);
  // Sets IFF_UP on link `index` (`name` is for errors).
  void set_up(int index, const std::string& name);
  // Deletes link `index`; false when it no longer exists (ENODEV), true when deleted.
  bool delete_link(int index, const std::string& name);
  // Adds an address to link `index`; nodad: IFA_F_NODAD (IPv6 usable at once, no DAD wait);
  // scope: RT_SCOPE_UNIVERSE (0) or RT_SCOPE_LINK (253).
  void add_address(int index, const std::string& name, const Address& addr, bool nodad,
                   uint8_t scope = 0);
  // Adds a route (NLM_F_EXCL). Throws SysError EEXIST when an equal route exists.
  void add_route(const RouteInfo& route, const std::string& name);
  // Deletes a route; false when it did not exist (ESRCH/ENOENT).
  bool delete_route(const RouteInfo& route, const std::string& name);

 private:
  explicit RtNetlink(mnl_socket* s) noexcept : sock_(s) {}
  std::vector<LinkInfo> links_once();
  std::vector<AddrInfo> addresses_once();
  std::vector<RouteInfo> routes_once(int family);
  // Sends one request and reads replies until its ACK (or, for a dump, NLMSG_DONE), calling
  // on_msg for each data message. Throws SysError(op, what, errno of the NLMSG_ERROR); a
  // dump the kernel marks interrupted (NLM_F_DUMP_INTR) throws EINTR once it is read off.
  void transact(void* nlh, std::string_view op, std::string_view what,
                const std::function<void(const void* nlh)>& on_msg);

  mnl_socket* sock_ = nullptr;
  uint32_t seq_ = 0;
};

}  // namespace goodcop
