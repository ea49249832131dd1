// netlink.cc: rtnetlink requests and dumps over libmnl.

#include "kernel/netlink.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <poll.h>
#include <sched.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <thread>
#include <utility>
#include <vector>

#include "base/error.h"

namespace goodcop {
namespace {

// True when the `len` bytes of replies at `buf` include the end of a dump.
bool holds_done(const char* buf, ssize_t len) {
  int left = static_cast<int>(len);
  for (auto* m = reinterpret_cast<const nlmsghdr*>(buf); mnl_nlmsg_ok(m, left);
       m = mnl_nlmsg_next(m, &left))
    if (m->nlmsg_type == NLMSG_DONE) return true;
  return false;
}

// Runs a dump again while it comes back interrupted (transact throws EINTR only for that),
// a bounded number of times: links change only while jails start and stop.
template <typename Fn>
auto redo_interrupted(Fn fn) {
  for (int attempt = 1;; ++attempt) {
    try {
      return fn();
    } catch (const SysError& e) {
      if (e.code() != EINTR || attempt == 20) throw;
    }
  }
}

// Room for any request we build and a batch of dump replies (the kernel fills up to the
// buffer it is given; 32 KiB is what iproute2 uses for dumps).
constexpr size_t kBufSize = 32768;

std::string op_name(uint16_t type) {
  switch (type) {
    case RTM_NEWLINK:
      return "rtnetlink RTM_NEWLINK";
    case RTM_DELLINK:
      return "rtnetlink RTM_DELLINK";
    case RTM_GETLINK:
      return "rtnetlink RTM_GETLINK";
    case RTM_NEWADDR:
      return "rtnetlink RTM_NEWADDR";
    case RTM_GETADDR:
      return "rtnetlink RTM_GETADDR";
    case RTM_NEWROUTE:
      return "rtnetlink RTM_NEWROUTE";
    case RTM_DELROUTE:
      return "rtnetlink RTM_DELROUTE";
    case RTM_GETROUTE:
      return "rtnetlink RTM_GETROUTE";
    default:
      return "rtnetlink " + std::to_string(type);
  }
}

nlmsghdr* start(std::vector<char>& buf, uint16_t type, uint16_t flags) {
  buf.assign(kBufSize, 0);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
  return nlh;
}

Address from_attr(int family, const nlattr* a, uint8_t prefix) {
  Address out;
  out.family = family;
  out.prefix = prefix;
  size_t n = std::min<size_t>(mnl_attr_get_payload_len(a), family == AF_INET ? 4 : 16);
  std::memcpy(out.bytes.data(), mnl_attr_get_payload(a), n);
  return out;
}

// Calls fn for each attribute in [first, tail) (the mnl_attr_for_each macros are C: they
// need casts C++ refuses and narrow ptrdiff_t silently).
template <typename F>
void each_attr(const void* first, const void* tail, F&& fn) {
  auto* a = static_cast<const nlattr*>(first);
  for (;;) {
    auto left = static_cast<const char*>(tail) - reinterpret_cast<const char*>(a);
    if (left <= 0 || !mnl_attr_ok(a, static_cast<int>(left))) break;
    fn(a);
    a = mnl_attr_next(a);
  }
}

// Collects a message's top-level attributes by type (bounded by `max`).
std::vector<const nlattr*> attrs(const nlmsghdr* nlh, size_t hdr_len, uint16_t max) {
  std::vector<const nlattr*> tb(max + 1u, nullptr);
  each_attr(mnl_nlmsg_get_payload_offset(nlh, hdr_len), mnl_nlmsg_get_payload_tail(nlh),
            [&](const nlattr* a) {
              uint16_t t = mnl_attr_get_type(a);
              if (t <= max) tb[t] = a;
            });
  return tb;
}

}  // namespace

std::string Address::ip() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (::inet_ntop(family, bytes.data(), buf, sizeof buf) == nullptr) return "?";
  return buf;
}

std::string Address::str() const {
  if (prefix == max_prefix()) return ip();
  return ip() + "/" + std::to_string(prefix);
}

Parsed<Address> parse_address(std::string_view text) {
  Parsed<Address> out;
  std::string_view ip = text;
  std::string_view pfx;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    ip = text.substr(0, slash);
    pfx = text.substr(slash + 1);
  }
  const std::string ip_s(ip);
  Address& a = out.value;
  if (!ip_s.empty() && ::inet_pton(AF_INET, ip_s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET;
  } else if (!ip_s.empty() && ::inet_pton(AF_INET6, ip_s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET6;
  } else {
    out.error = "invalid IP address '" + std::string(text) + "'";
    return out;
  }
  a.prefix = a.max_prefix();
  if (text.find('/') != std::string_view::npos) {
    auto p = parse_uint(pfx, 0, a.max_prefix());
    if (!p) {
      out.error = "invalid prefix length in '" + std::string(text) + "'";
      return out;
    }
    a.prefix = static_cast<uint8_t>(p.value);
  }
  return out;
}

RtNetlink RtNetlink::open() {
  mnl_socket* s = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (s == nullptr) throw SysError("socket", "NETLINK_ROUTE", errno);
  if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
    int err = errno;
    mnl_socket_close(s);
    throw SysError("bind", "NETLINK_ROUTE", err);
  }
  return RtNetlink(s);
}

RtNetlink RtNetlink::open_in_netns(int netns_fd) {
  // setns(CLONE_NEWNET) changes only the calling thread; doing it on a throw-away thread keeps
  // every other thread (and this one) in the host netns, and the socket keeps the netns it was
  // created in for its whole life.
  std::exception_ptr err;
  mnl_socket* s = nullptr;
  std::thread t([&] {
    try {
      check(::setns(netns_fd, CLONE_NEWNET), "setns", "netns fd " + std::to_string(netns_fd));
      RtNetlink nl = open();
      s = std::exchange(nl.sock_, nullptr);
    } catch (...) {
      err = std::current_exception();
    }
  });
  t.join();
  if (err) std::rethrow_exception(err);
  return RtNetlink(s);
}

RtNetlink::RtNetlink(RtNetlink&& o) noexcept
    : sock_(std::exchange(o.sock_, nullptr)), seq_(o.seq_) {}

RtNetlink& RtNetlink::operator=(RtNetlink&& o) noexcept {
  if (this != &o) {
    if (sock_ != nullptr) mnl_socket_close(sock_);
    sock_ = std::exchange(o.sock_, nullptr);
    seq_ = o.seq_;
  }
  return *this;
}

RtNetlink::~RtNetlink() {
  if (sock_ != nullptr) mnl_socket_close(sock_);
}

void RtNetlink::transact(void* msg, std::string_view op, std::string_view what,
                         const std::function<void(const void*)>& on_msg) {
  auto* nlh = static_cast<nlmsghdr*>(msg);
  const bool dump = (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  if (!dump) nlh->nlmsg_flags |= NLM_F_ACK;
  nlh->nlmsg_seq = ++seq_;
  if (mnl_socket_sendto(sock_, nlh, nlh->nlmsg_len) < 0) throw SysError(op, what, errno);
  const unsigned portid = mnl_socket_get_portid(sock_);
  std::vector<char> buf(kBufSize);
  // libmnl is C: an exception must not unwind through it, so the callback parks it here.
  struct Ctx {
    const std::function<void(const void*)>* fn;
    std::exception_ptr err;
  } ctx{&on_msg, nullptr};
  auto cb = [](const nlmsghdr* m, void* data) -> int {
    auto* c = static_cast<Ctx*>(data);
    try {
      if (*c->fn) (*c->fn)(m);
    } catch (...) {
      c->err = std::current_exception();
      return MNL_CB_ERROR;
    }
    return MNL_CB_OK;
  };
  bool interrupted = false;
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(sock_, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw SysError(op, what, errno);
    if (interrupted) {
      if (holds_done(buf.data(), n)) throw SysError(op, what, EINTR);
      continue;
    }
    errno = 0;
    int rc = mnl_cb_run(buf.data(), static_cast<size_t>(n), nlh->nlmsg_seq, portid, cb, &ctx);
    if (ctx.err) std::rethrow_exception(ctx.err);
    if (rc == MNL_CB_ERROR && dump && errno == EINTR) {
      // NLM_F_DUMP_INTR (libmnl says EINTR): the table changed during the dump (another
      // jail's veth came or went), so what was read is inconsistent. Read the rest of the
      // dump away, so the next request on this socket starts clean; the caller redoes it.
      interrupted = true;
      if (holds_done(buf.data(), n)) throw SysError(op, what, EINTR);
      continue;
    }
    if (rc == MNL_CB_ERROR) throw SysError(op, what, errno != 0 ? errno : EPROTO);
    if (rc == MNL_CB_STOP) return;
  }
}

int RtNetlink::link_index(const std::string& name) {
  std::vector<char> buf;
  nlmsghdr* nlh = start(buf, RTM_GETLINK, 0);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  int index = 0;
  try {
    // A plain GET is answered with the RTM_NEWLINK and then the ACK.
    transact(nlh, op_name(RTM_GETLINK), name, [&](const void* m) {
      auto* reply =
          static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(static_cast<const nlmsghdr*>(m)));
      index = reply->ifi_index;
    });
  } catch (const SysError& e) {
    if (e.code() == ENODEV) return 0;
    throw;
  }
  return index;
}

namespace {

LinkInfo parse_link(const nlmsghdr* m) {
  auto* r = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(m));
  LinkInfo li;
  li.index = r->ifi_index;
  li.flags = r->ifi_flags;
  auto tb = attrs(m, sizeof(ifinfomsg), IFLA_MAX);
  if (tb[IFLA_IFNAME]) li.name = mnl_attr_get_str(tb[IFLA_IFNAME]);
  if (tb[IFLA_QDISC]) li.qdisc = mnl_attr_get_str(tb[IFLA_QDISC]);
  if (tb[IFLA_OPERSTATE]) li.operstate = mnl_attr_get_u8(tb[IFLA_OPERSTATE]);
  if (tb[IFLA_LINK]) li.peer = static_cast<int>(mnl_attr_get_u32(tb[IFLA_LINK]));
  if (tb[IFLA_LINKINFO]) {
    const nlattr* info = tb[IFLA_LINKINFO];
    each_attr(mnl_attr_get_payload(info),
              static_cast<const char*>(static_cast<const void*>(info)) + info->nla_len,
              [&](const nlattr* a) {
                if (mnl_attr_get_type(a) == IFLA_INFO_KIND) li.kind = mnl_attr_get_str(a);
              });
  }
  return li;
}

}  // namespace

std::vector<LinkInfo> RtNetlink::links() {
  return redo_interrupted([&] { return links_once(); });
}

std::vector<LinkInfo> RtNetlink::links_once() {
  std::vector<char> buf;
  nlmsghdr* nlh = start(buf, RTM_GETLINK, NLM_F_DUMP);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  std::vector<LinkInfo> out;
  transact(nlh, op_name(RTM_GETLINK), "", [&](const void* p) {
    auto* m = static_cast<const nlmsghdr*>(p);
    if (m->nlmsg_type == RTM_NEWLINK) out.push_back(parse_link(m));
  });
  return out;
}

std::optional<LinkInfo> RtNetlink::link(int index) {
  for (LinkInfo& l : links())
    if (l.index == index) return std::move(l);
  return std::nullopt;
}

LinkMonitor::LinkMonitor(int netns_fd) {
  auto subscribe = [this] {
    sock_ = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (sock_ == nullptr) throw SysError("socket", "NETLINK_ROUTE", errno);
    if (mnl_socket_bind(sock_, 1u << (RTNLGRP_LINK - 1), MNL_SOCKET_AUTOPID) < 0) {
      int err = errno;
      mnl_socket_close(sock_);
      sock_ = nullptr;
      throw SysError("bind", "RTNLGRP_LINK", err);
    }
  };
  if (netns_fd < 0) {
    subscribe();
    return;
  }
  std::exception_ptr err;
  std::thread t([&] {  // as in RtNetlink::open_in_netns
    try {
      check(::setns(netns_fd, CLONE_NEWNET), "setns", "netns fd " + std::to_string(netns_fd));
      subscribe();
    } catch (...) {
      err = std::current_exception();
    }
  });
  t.join();
  if (err) std::rethrow_exception(err);
}

LinkMonitor::~LinkMonitor() {
  if (sock_ != nullptr) mnl_socket_close(sock_);
}

bool LinkMonitor::wait(const std::function<bool(const LinkInfo&)>& pred, int timeout_ms) {
  const int fd = mnl_socket_get_fd(sock_);
  std::vector<char> buf(kBufSize);
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno != EINTR) throw SysError("poll", "RTNLGRP_LINK", errno);
    if (rc <= 0) continue;
    ssize_t n = mnl_socket_recvfrom(sock_, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      // ENOBUFS: notifications were lost; the caller's predicate re-check covers it.
      if (errno == ENOBUFS) return false;
      throw SysError("recv", "RTNLGRP_LINK", errno);
    }
    int len = static_cast<int>(n);
    for (const nlmsghdr* m = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(m, len);
         m = mnl_nlmsg_next(m, &len)) {
      if (m->nlmsg_type == RTM_NEWLINK && pred(parse_link(m))) return true;
    }
  }
}

std::vector<AddrInfo> RtNetlink::addresses() {
  return redo_interrupted([&] { return addresses_once(); });
}

std::vector<AddrInfo> RtNetlink::addresses_once() {
  std::vector<char> buf;
  nlmsghdr* nlh = start(buf, RTM_GETADDR, NLM_F_DUMP);
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_UNSPEC;
  std::vector<AddrInfo> out;
  transact(nlh, op_name(RTM_GETADDR), "", [&](const void* p) {
    auto* m = static_cast<const nlmsghdr*>(p);
    if (m->nlmsg_type != RTM_NEWADDR) return;
    auto* r = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(m));
    if (r->ifa_family != AF_INET && r->ifa_family != AF_INET6) return;
    auto tb = attrs(m, sizeof(ifaddrmsg), IFA_MAX);
    // IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer on point-to-point links).
    const nlattr* a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
    if (a == nullptr) return;
    AddrInfo ai;
    ai.index = static_cast<int>(r->ifa_index);
    ai.addr = from_attr(r->ifa_family, a, r->ifa_prefixlen);
    ai.flags = tb[IFA_FLAGS] ? mnl_attr_get_u32(tb[IFA_FLAGS]) : r->ifa_flags;
    out.push_back(ai);
  });
  return out;
}

std::vector<RouteInfo> RtNetlink::routes(int family) {
  return redo_interrupted([&] { return routes_once(family); });
}

std::vector<RouteInfo> RtNetlink::routes_once(int family) {
  std::vector<char> buf;
  nlmsghdr* nlh = start(buf, RTM_GETROUTE, NLM_F_DUMP);
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = static_cast<unsigned char>(family);
  std::vector<RouteInfo> out;
  transact(nlh, op_name(RTM_GETROUTE), "", [&](const void* p) {
    auto* m = static_cast<const nlmsghdr*>(p);
    if (m->nlmsg_type != RTM_NEWROUTE) return;
    auto* r = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(m));
    auto tb = attrs(m, sizeof(rtmsg), RTA_MAX);
    uint32_t table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : r->rtm_table;
    if (table != RT_TABLE_MAIN || r->rtm_family != family) return;
    RouteInfo ri;
    ri.dst.family = family;
    ri.dst.prefix = r->rtm_dst_len;
    if (tb[RTA_DST]) ri.dst = from_attr(family, tb[RTA_DST], r->rtm_dst_len);
    if (tb[RTA_GATEWAY])
      ri.gateway = from_attr(family, tb[RTA_GATEWAY], family == AF_INET ? 32 : 128);
    if (tb[RTA_OIF]) ri.oif = static_cast<int>(mnl_attr_get_u32(tb[RTA_OIF]));
    ri.type = r->rtm_type;
    ri.scope = r->rtm_scope;
    ri.protocol = r->rtm_protocol;
    ri.onlink = (r->rtm_flags & RTNH_F_ONLINK) != 0;
    out.push_back(ri);
  });
  return out;
}

int RtNetlink::create_veth(const std::string& host_name, const std::string& peer_name,
                           int peer_netns_fd) {
  std::vector<char> buf;
  nlmsghdr* nlh = start(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, host_name.c_str());
  nlattr* linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
  nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
  nlattr* peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
  // VETH_INFO_PEER carries a whole ifinfomsg followed by the peer's own IFLA_* attributes.
  auto* pifi = static_cast<ifinfomsg*>(mnl_nlmsg_get_payload_tail(nlh));
  std::memset(pifi, 0, sizeof *pifi);
  nlh->nlmsg_len += MNL_ALIGN(sizeof(ifinfomsg));
  mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_name.c_str());
  // The peer is born inside the jail's netns: its name can never clash with a host interface.
  mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, static_cast<uint32_t>(peer_netns_fd));
  mnl_attr_nest_end(nlh, peer);
  mnl_attr_nest_end(nlh, data);
  mnl_attr_nest_end(nlh, linkinfo);
  transact(nlh, op_name(RTM_NEWLINK), host_name, nullptr);
  int index = link_index(host_name);
  if (index == 0) throw SysError(op_name(RTM_NEWLINK), host_name, ENODEV);
  return index;
}

void RtNetlink::set_up(int index, const std::string& name) {
  std::vector<char> buf;
  nlmsghdr* nlh = start(buf, RTM_NEWLINK, 0);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  transact(nlh, op_name(RTM_NEWLINK), name, nullptr);
}

bool RtNetlink::delete_link(int index, const std::string& name) {
  std::vector<char> buf;
  nlmsghdr* nlh = start(buf, RTM_DELLINK, 0);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  try {
    transact(nlh, op_name(RTM_DELLINK), name, nullptr);
  } catch (const SysError& e) {
    if (e.code() == ENODEV) return false;
    throw;
  }
  return true;
}

void RtNetlink::add_address(int index, const std::string& name, const Address& addr, bool nodad,
                            uint8_t scope) {
  std::vector<char> buf;
  nlmsghdr* nlh = start(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = static_cast<unsigned char>(addr.family);
  ifa->ifa_prefixlen = addr.prefix;
  ifa->ifa_scope = scope;
  ifa->ifa_index = static_cast<unsigned>(index);
  const uint32_t flags = nodad ? IFA_F_NODAD : 0;
  ifa->ifa_flags = static_cast<unsigned char>(flags);
  mnl_attr_put(nlh, IFA_LOCAL, addr.size(), addr.bytes.data());
  mnl_attr_put(nlh, IFA_ADDRESS, addr.size(), addr.bytes.data());
  mnl_attr_put_u32(nlh, IFA_FLAGS, flags);
  transact(nlh, op_name(RTM_NEWADDR), name + " " + addr.str(), nullptr);
}

namespace {

nlmsghdr* route_msg(std::vector<char>& buf, uint16_t type, uint16_t flags, const RouteInfo& r) {
  nlmsghdr* nlh = start(buf, type, flags);
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = static_cast<unsigned char>(r.dst.family);
  rtm->rtm_dst_len = r.dst.prefix;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = r.protocol;
  rtm->rtm_scope = r.scope;
  rtm->rtm_type = r.type;
  rtm->rtm_flags = r.onlink ? RTNH_F_ONLINK : 0;
  if (r.dst.prefix > 0) mnl_attr_put(nlh, RTA_DST, r.dst.size(), r.dst.bytes.data());
  if (r.gateway) mnl_attr_put(nlh, RTA_GATEWAY, r.gateway->size(), r.gateway->bytes.data());
  if (r.oif > 0) mnl_attr_put_u32(nlh, RTA_OIF, static_cast<uint32_t>(r.oif));
  return nlh;
}

}  // namespace

void RtNetlink::add_route(const RouteInfo& route, const std::string& name) {
  std::vector<char> buf;
  nlmsghdr* nlh = route_msg(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, route);
  transact(nlh, op_name(RTM_NEWROUTE), name + " " + route.dst.str(), nullptr);
}

bool RtNetlink::delete_route(const RouteInfo& route, const std::string& name) {
  std::vector<char> buf;
  RouteInfo r = route;
  r.protocol = RTPROT_UNSPEC;  // match any protocol
  r.scope = RT_SCOPE_NOWHERE;  // "any scope" for RTM_DELROUTE (iproute2 does the same)
  nlmsghdr* nlh = route_msg(buf, RTM_DELROUTE, 0, r);
  try {
    transact(nlh, op_name(RTM_DELROUTE), name + " " + route.dst.str(), nullptr);
  } catch (const SysError& e) {
    if (e.code() == ESRCH || e.code() == ENOENT) return false;
    throw;
  }
  return true;
}

}  // namespace goodcop
