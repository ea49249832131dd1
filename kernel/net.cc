// net.cc: a jail's veth pair, loopback, and the test prefixes' unreachable guard.

#include "kernel/net.h"

#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <sys/stat.h>

#include <cstdio>

#include "base/error.h"
#include "base/log.h"

namespace goodcop {
namespace {

constexpr size_t kIfNameMax = 15;  // IFNAMSIZ - 1

Address must_parse(const char* text) {
  auto a = parse_address(text);
  if (!a) throw Error(a.error);
  return a.value;
}

// FNV-1a: a stable short hash for names too long for IFNAMSIZ (not a security boundary).
uint32_t fnv1a(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

// Returns once link `index` can carry packets (see LinkInfo::ready); `mon` was subscribed
// before the link came up, so the notification cannot slip between check and wait.
void wait_ready(RtNetlink& nl, LinkMonitor& mon, int index, const std::string& hn,
                const std::string& name) {
  auto now = nl.link(index);
  if (now && now->ready()) return;
  if (mon.wait([&](const LinkInfo& l) { return l.index == index && l.ready(); }, 2000)) return;
  now = nl.link(index);  // a lost notification (ENOBUFS) or a very slow link watch
  if (now && now->ready()) return;
  throw Error("veth '" + hn + "': link '" + name + "' not ready after 2s");
}

RouteInfo host_route(const Address& jail_addr, int oif) {
  RouteInfo r;
  r.dst = jail_addr;
  r.dst.prefix = jail_addr.max_prefix();  // only the jail's own address, never its subnet
  r.oif = oif;
  r.type = RTN_UNICAST;
  // "scope link": reachable directly on the device, no gateway (IPv6 ignores the scope).
  r.scope = jail_addr.family == AF_INET ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  r.protocol = RTPROT_STATIC;
  return r;
}

RouteInfo default_route(int family, const Address& gateway, int oif) {
  RouteInfo r;
  r.dst.family = family;
  r.dst.prefix = 0;
  r.gateway = gateway;
  r.oif = oif;
  r.type = RTN_UNICAST;
  r.scope = RT_SCOPE_UNIVERSE;
  r.protocol = RTPROT_STATIC;
  // IPv4: 169.254.0.1 is in no subnet of the jail, so the kernel must be told it is on-link.
  // IPv6: a link-local gateway with an output device is on-link by definition.
  r.onlink = family == AF_INET;
  return r;
}

}  // namespace

UniqueFd open_netns(pid_t pid) {
  return open_fd("/proc/" + std::to_string(pid) + "/ns/net", O_RDONLY);
}

std::string veth_host_name(const std::string& jail_name) {
  bool ok = !jail_name.empty();
  for (char c : jail_name)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '.' || c == '-');
  if (!ok) throw Error("jail name '" + jail_name + "' is not usable in an interface name");
  std::string name = "gc-" + jail_name;
  if (name.size() <= kIfNameMax) return name;
  char hex[16];
  std::snprintf(hex, sizeof hex, "%07x", fnv1a(jail_name) & 0xfffffffu);
  return "gc-" + jail_name.substr(0, 4) + "-" + hex;
}

void bring_up_loopback(int netns_fd) {
  RtNetlink nl = RtNetlink::open_in_netns(netns_fd);
  int lo = nl.link_index("lo");
  if (lo == 0) throw SysError("rtnetlink RTM_GETLINK", "lo", ENODEV);
  nl.set_up(lo, "lo");
}

Veth Veth::create(const std::string& name, int netns_fd, const NetSpec& spec) {
  const std::string hn = veth_host_name(name);
  if (spec.addrs.empty()) throw Error("veth '" + hn + "': no addresses");
  bool has4 = false, has6 = false;
  for (size_t i = 0; i < spec.addrs.size(); ++i) {
    const Address& a = spec.addrs[i];
    if (a.family != AF_INET && a.family != AF_INET6)
      throw Error("veth '" + hn + "': address of unknown family");
    for (size_t j = 0; j < i; ++j)
      if (spec.addrs[j].family == a.family && spec.addrs[j].bytes == a.bytes)
        throw Error("veth '" + hn + "': duplicate address '" + a.ip() + "'");
    (a.family == AF_INET ? has4 : has6) = true;
  }

  // The jail's netns, never ours: a netns fd opened before the child unshared would make the
  // "jail side" a second interface of the host.
  const struct stat mine = fstat_fd(open_fd("/proc/thread-self/ns/net", O_RDONLY).get());
  const struct stat theirs = fstat_fd(netns_fd, "netns fd");
  if (mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino)
    throw Error("veth '" + hn + "': the target network namespace is the host's own");

  RtNetlink host = RtNetlink::open();
  RtNetlink jail = RtNetlink::open_in_netns(netns_fd);
  LinkMonitor host_mon;  // subscribed before anything comes up
  LinkMonitor jail_mon(netns_fd);
  Veth v;  // from here on, a throw deletes the pair through v's destructor
  v.host_name_ = hn;
  v.host_index_ = host.create_veth(hn, kJailIfname, netns_fd);

  const Address gw4 = must_parse(kHostGateway4);
  const Address gw6 = must_parse("fe80::1/64");
  // Host side: the jail's gateways live here, so the jail only ever has to resolve an address
  // configured on the very interface its ARP/NS arrives on.
  if (has4) host.add_address(v.host_index_, hn, gw4, false, RT_SCOPE_LINK);
  if (has6) host.add_address(v.host_index_, hn, gw6, true);
  host.set_up(v.host_index_, hn);

  // Jail side. lo too: the jail's 127.0.0.1 is its own.
  if (int lo = jail.link_index("lo"); lo != 0) jail.set_up(lo, "lo");
  const int eth = jail.link_index(kJailIfname);
  if (eth == 0) throw SysError("rtnetlink RTM_GETLINK", kJailIfname, ENODEV);
  jail.set_up(eth, kJailIfname);  // before routes: IPv6 refuses a nexthop on a down device
  for (const Address& a : spec.addrs) jail.add_address(eth, kJailIfname, a, a.family == AF_INET6);
  Address gw6_host = gw6;
  gw6_host.prefix = 128;
  if (has4) jail.add_route(default_route(AF_INET, gw4, eth), kJailIfname);
  if (has6) jail.add_route(default_route(AF_INET6, gw6_host, eth), kJailIfname);

  // Host routes to each jail address through the host side.
  for (const Address& a : spec.addrs) host.add_route(host_route(a, v.host_index_), hn);
  // Usable when create() returns: the first packet must not hit noop_qdisc.
  wait_ready(host, host_mon, v.host_index_, hn, hn);
  wait_ready(jail, jail_mon, eth, hn, kJailIfname);
  log_debug("veth '{}': up with {} address(es)", hn, spec.addrs.size());
  return v;
}

bool Veth::clean_stale(const std::string& name) {
  const std::string hn = veth_host_name(name);
  RtNetlink nl = RtNetlink::open();
  for (const LinkInfo& l : nl.links()) {
    // Only a veth by our exact name: never an interface someone else made.
    if (l.name == hn && l.kind == "veth") {
      log_debug("veth '{}': removing a stale link", hn);
      return nl.delete_link(l.index, hn);
    }
  }
  return false;
}

std::optional<Veth> Veth::open_existing(const std::string& name, int netns_fd) {
  const std::string hn = veth_host_name(name);
  RtNetlink nl = RtNetlink::open();
  for (const LinkInfo& l : nl.links()) {
    if (l.name != hn || l.kind != "veth") continue;
    // The pair must join the host to this jail: the host end's peer is the jail's eth0, and
    // eth0's peer is the host end (a gc-NAME left over from another run points elsewhere).
    RtNetlink jail = RtNetlink::open_in_netns(netns_fd);
    for (const LinkInfo& j : jail.links()) {
      if (j.name == kJailIfname && j.kind == "veth" && j.index == l.peer && j.peer == l.index) {
        Veth v;
        v.host_name_ = hn;
        v.host_index_ = l.index;
        return v;
      }
    }
    return std::nullopt;
  }
  return std::nullopt;
}

Veth::Veth(Veth&& o) noexcept
    : host_name_(std::move(o.host_name_)), host_index_(std::exchange(o.host_index_, 0)) {}

Veth& Veth::operator=(Veth&& o) noexcept {
  if (this != &o) {
    try {
      destroy();
    } catch (...) {
    }
    host_name_ = std::move(o.host_name_);
    host_index_ = std::exchange(o.host_index_, 0);
  }
  return *this;
}

Veth::~Veth() {
  try {
    destroy();
  } catch (const std::exception& e) {
    log_debug("veth '{}': destroy: {}", host_name_, e.what());
  }
}

void Veth::destroy() {
  if (host_index_ == 0) return;
  RtNetlink nl = RtNetlink::open();
  // When the jail's netns died first, the kernel already deleted both ends; an index now
  // naming some other interface must not be deleted.
  if (nl.link_index(host_name_) == host_index_) nl.delete_link(host_index_, host_name_);
  host_index_ = 0;
}

UnreachableRoute::UnreachableRoute(const Address& prefix) : prefix_(prefix) {
  RtNetlink nl = RtNetlink::open();
  RouteInfo r;
  r.dst = prefix;
  r.type = RTN_UNREACHABLE;
  r.scope = RT_SCOPE_UNIVERSE;
  r.protocol = RTPROT_STATIC;
  try {
    nl.add_route(r, "unreachable");
    owned_ = true;
  } catch (const SysError& e) {
    if (e.code() != EEXIST) throw;
  }
}

UnreachableRoute::~UnreachableRoute() {
  if (!owned_) return;
  try {
    RtNetlink nl = RtNetlink::open();
    RouteInfo r;
    r.dst = prefix_;
    r.type = RTN_UNREACHABLE;
    nl.delete_route(r, "unreachable");
  } catch (const std::exception& e) {
    log_debug("unreachable route '{}': remove: {}", prefix_.str(), e.what());
  }
}

}  // namespace goodcop
