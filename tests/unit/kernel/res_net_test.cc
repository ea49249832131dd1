// Network tests on the real kernel: veth pairs into a child's network namespace, reachability
// of a server in it at the jail's IPv4 and IPv6 addresses, what the jail sees, teardown and
// stale cleanup, loopback for `none`, and the unreachable guard the tests rely on.

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <optional>
#include <thread>

#include "base/error.h"
#include "kernel/net.h"
#include "tests/support/support.h"
#include "tests/unit/kernel/res_support.h"

using namespace goodcop;
using goodcop::test::Child;

namespace {

Address addr(const char* text) {
  auto a = parse_address(text);
  REQUIRE(a);
  return a.value;
}

// The end-of-test assertion: no link of ours is left on the host, no route to our addresses.
void require_no_link(const std::string& jail) {
  CHECK(::if_nametoindex(veth_host_name(jail).c_str()) == 0);
  RtNetlink nl = RtNetlink::open();
  for (const LinkInfo& l : nl.links()) CHECK(l.name.rfind("gc-res", 0) == std::string::npos);
}

bool has_route_to(RtNetlink& nl, int family, const Address& dst) {
  for (const RouteInfo& r : nl.routes(family))
    if (r.dst == dst) return true;
  return false;
}

// Listens on 0.0.0.0:port and [::]:port (v6only) inside the calling process's netns.
std::vector<int> listen_any(uint16_t port) {
  std::vector<int> fds;
  int s4 = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int s6 = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(s6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  sockaddr_in a4{};
  a4.sin_family = AF_INET;
  a4.sin_port = htons(port);
  sockaddr_in6 a6{};
  a6.sin6_family = AF_INET6;
  a6.sin6_port = htons(port);
  if (::bind(s4, reinterpret_cast<sockaddr*>(&a4), sizeof a4) < 0 || ::listen(s4, 8) < 0) return {};
  if (::bind(s6, reinterpret_cast<sockaddr*>(&a6), sizeof a6) < 0 || ::listen(s6, 8) < 0) return {};
  return {s4, s6};
}

// Connects to ip:port within 5 s; returns "ok" with the socket in `out`, or "error: <strerror>".
std::string connect_to(const std::string& ip, uint16_t port, UniqueFd& out) {
  sockaddr_storage ss{};
  socklen_t len;
  int family;
  if (ip.find(':') == std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    ::inet_pton(AF_INET, ip.c_str(), &a->sin_addr);
    len = sizeof *a;
    family = AF_INET;
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    ::inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr);
    len = sizeof *a;
    family = AF_INET6;
  }
  UniqueFd s(::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0 && errno != EINPROGRESS)
    return std::string("error: ") + std::strerror(errno);
  pollfd p{s.get(), POLLOUT, 0};
  if (::poll(&p, 1, 5000) != 1) return "error: timeout";
  int err = 0;
  socklen_t el = sizeof err;
  ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &el);
  if (err != 0) return std::string("error: ") + std::strerror(err);
  out = std::move(s);
  return "ok";
}

// Connects and returns the first line the server sends, or "error: ...".
std::string fetch(const std::string& ip, uint16_t port) {
  UniqueFd s;
  std::string r = connect_to(ip, port, s);
  if (r != "ok") return r;
  pollfd p{s.get(), POLLIN, 0};
  if (::poll(&p, 1, 5000) != 1) return "error: no greeting";
  char buf[128];
  ssize_t n = ::read(s.get(), buf, sizeof buf);
  if (n <= 0) return "error: eof";
  std::string line(buf, static_cast<size_t>(n));
  if (!line.empty() && line.back() == '\n') line.pop_back();
  return line;
}

// A "jail": a child in a new network namespace serving a greeting on port 8080 (IPv4 and
// IPv6), `count` connections, then exiting.
Child serving_jail(int count) {
  return Child(
      [count](int in, int out) {
        std::vector<int> fds = listen_any(8080);
        if (fds.empty()) return 3;
        Child::write_line(out, "listening");
        (void)Child::read_line(in);
        for (int served = 0; served < count;) {
          pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
          if (::poll(p, 2, 10000) <= 0) return 4;
          for (auto& e : p) {
            if ((e.revents & POLLIN) == 0) continue;
            int c = ::accept4(e.fd, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) return 5;
            const char msg[] = "hello from the jail\n";
            (void)!::write(c, msg, sizeof msg - 1);
            ::close(c);
            ++served;
          }
        }
        return 0;
      },
      CLONE_NEWNET);
}

}  // namespace

TEST_CASE("net: addresses parse with and without prefix", "[kernel][net]") {
  CHECK(addr("198.18.0.2").str() == "198.18.0.2");
  CHECK(addr("198.18.0.2").prefix == 32);
  CHECK(addr("198.18.0.0/15").str() == "198.18.0.0/15");
  CHECK(addr("2001:db8::2").prefix == 128);
  CHECK(addr("2001:DB8:0::2/64").str() == "2001:db8::2/64");
  CHECK(addr("2001:db8::2/64").ip() == "2001:db8::2");
  CHECK(addr("::").family == AF_INET6);
  CHECK(parse_address("198.18.0.256").error == "invalid IP address '198.18.0.256'");
  CHECK(parse_address("").error == "invalid IP address ''");
  CHECK(parse_address("web1").error == "invalid IP address 'web1'");
  CHECK(parse_address("fe80::1%eth0").error == "invalid IP address 'fe80::1%eth0'");
  CHECK(parse_address("198.18.0.2/33").error == "invalid prefix length in '198.18.0.2/33'");
  CHECK(parse_address("2001:db8::/129").error == "invalid prefix length in '2001:db8::/129'");
  CHECK(parse_address("198.18.0.2/").error == "invalid prefix length in '198.18.0.2/'");
  CHECK(parse_address("198.18.0.2/+1").error == "invalid prefix length in '198.18.0.2/+1'");
}

TEST_CASE("net: host interface names fit IFNAMSIZ and are stable", "[kernel][net]") {
  CHECK(veth_host_name("web1") == "gc-web1");
  CHECK(veth_host_name("abcdefghijkl") == "gc-abcdefghijkl");  // exactly 15
  std::string longn = veth_host_name("customer-web-frontend");
  CHECK(longn.size() == 15);
  CHECK(longn.rfind("gc-cust-", 0) == 0);
  CHECK(veth_host_name("customer-web-frontend") == longn);
  CHECK(veth_host_name("customer-web-backend") != longn);
  CHECK_THROWS_WITH(veth_host_name("a/b"), "jail name 'a/b' is not usable in an interface name");
  CHECK_THROWS_WITH(veth_host_name(""), "jail name '' is not usable in an interface name");
}

TEST_CASE("net: bad specs are refused before anything is created", "[kernel][net]") {
  CHECK_THROWS_WITH(Veth::create("res-bad", 0, {}), "veth 'gc-res-bad': no addresses");
  NetSpec dup{{addr("198.18.0.2"), addr("198.18.0.2/24")}};
  CHECK_THROWS_WITH(Veth::create("res-bad", 0, dup),
                    "veth 'gc-res-bad': duplicate address '198.18.0.2'");
  // A netns fd opened before the child unshared is the host's own: refused, nothing created.
  UniqueFd own = open_netns(::getpid());
  CHECK_THROWS_WITH(Veth::create("res-bad", own.get(), {{addr("198.18.0.2")}}),
                    "veth 'gc-res-bad': the target network namespace is the host's own");
  CHECK(::if_nametoindex("gc-res-bad") == 0);
}

TEST_CASE("net: a server in the jail is reachable at its IPv4 and IPv6 addresses",
          "[kernel][net][root]") {
  GOODCOP_REQUIRE_ROOT();
  // The test prefixes must never leave this machine through the default route.
  UnreachableRoute guard4(addr("198.18.0.0/15"));
  UnreachableRoute guard6(addr("2001:db8::/32"));
  Child jail = serving_jail(2);
  REQUIRE(jail.recv() == "listening");
  UniqueFd ns = open_netns(jail.pid());
  {
    Veth v = Veth::create("res-web", ns.get(), {{addr("198.18.0.2"), addr("2001:db8::2")}});
    CHECK(v.host_name() == "gc-res-web");
    CHECK(static_cast<int>(::if_nametoindex("gc-res-web")) == v.host_index());
    jail.send("go");
    // Both ends can carry packets as soon as create() returns (no noop_qdisc window).
    RtNetlink host = RtNetlink::open();
    RtNetlink in = RtNetlink::open_in_netns(ns.get());
    CHECK(host.link(v.host_index())->ready());
    CHECK(in.link(in.link_index("eth0"))->ready());
    CHECK(fetch("198.18.0.2", 8080) == "hello from the jail");
    CHECK(fetch("2001:db8::2", 8080) == "hello from the jail");
    // The jail's 0.0.0.0 is its own: nothing listens on the host's loopback.
    CHECK(fetch("127.0.0.1", 8080) == "error: Connection refused");
    // A neighbour address in the test prefix is not routed to the jail.
    CHECK(fetch("198.18.0.3", 8080) == "error: No route to host");
    int st = jail.wait();
    CHECK((WIFEXITED(st) && WEXITSTATUS(st) == 0));
  }
  require_no_link("res-web");
}

TEST_CASE("net: the jail sees only lo and eth0, with its addresses and default routes",
          "[kernel][net][root]") {
  GOODCOP_REQUIRE_ROOT();
  Child jail([](int in, int) { return Child::read_line(in) == "bye" ? 0 : 1; }, CLONE_NEWNET);
  UniqueFd ns = open_netns(jail.pid());
  Veth v = Veth::create("res-view", ns.get(),
                        {{addr("198.18.0.7/32"), addr("2001:db8::7"), addr("198.18.1.7/24")}});
  // Looked at from inside: a socket made in the jail's netns (the same trick Veth uses).
  RtNetlink in = RtNetlink::open_in_netns(ns.get());
  std::vector<LinkInfo> links = in.links();
  std::vector<std::string> names;
  for (auto& l : links) names.push_back(l.name);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"eth0", "lo"});
  int eth = in.link_index("eth0");
  for (auto& l : links) {
    INFO(l.name);
    CHECK((l.flags & IFF_UP) != 0);
    if (l.name == "eth0") CHECK(l.kind == "veth");
  }
  std::vector<std::string> eth_addrs;
  for (auto& a : in.addresses())
    if (a.index == eth && !(a.addr.family == AF_INET6 && a.addr.bytes[0] == 0xfe))
      eth_addrs.push_back(a.addr.str() + (a.flags & IFA_F_NODAD ? " nodad" : ""));
  std::sort(eth_addrs.begin(), eth_addrs.end());
  CHECK(eth_addrs ==
        std::vector<std::string>{"198.18.0.7", "198.18.1.7/24", "2001:db8::7 nodad"});
  bool gw4 = false, gw6 = false;
  for (auto& r : in.routes(AF_INET))
    if (r.dst.prefix == 0 && r.gateway && r.gateway->ip() == "169.254.0.1" && r.oif == eth)
      gw4 = r.onlink;
  for (auto& r : in.routes(AF_INET6))
    if (r.dst.prefix == 0 && r.gateway && r.gateway->ip() == "fe80::1" && r.oif == eth) gw6 = true;
  CHECK(gw4);
  CHECK(gw6);
  // The host routes exactly the jail's own addresses (never its /24) through gc-res-view.
  RtNetlink host = RtNetlink::open();
  CHECK(has_route_to(host, AF_INET, addr("198.18.0.7")));
  CHECK(has_route_to(host, AF_INET, addr("198.18.1.7")));
  CHECK_FALSE(has_route_to(host, AF_INET, addr("198.18.1.0/24")));
  CHECK(has_route_to(host, AF_INET6, addr("2001:db8::7")));

  // Destroy: the host link, its peer and every route through it are gone.
  v.destroy();
  CHECK(::if_nametoindex("gc-res-view") == 0);
  CHECK_FALSE(has_route_to(host, AF_INET, addr("198.18.0.7")));
  CHECK_FALSE(has_route_to(host, AF_INET, addr("198.18.1.7")));
  CHECK_FALSE(has_route_to(host, AF_INET6, addr("2001:db8::7")));
  CHECK(in.link_index("eth0") == 0);
  v.destroy();  // idempotent
  jail.send("bye");
  CHECK(jail.wait() == 0);
  require_no_link("res-view");
}

TEST_CASE("net: creating over an existing link fails and leaves it alone",
          "[kernel][net][root]") {
  GOODCOP_REQUIRE_ROOT();
  Child jail([](int in, int) { return Child::read_line(in) == "bye" ? 0 : 1; }, CLONE_NEWNET);
  UniqueFd ns = open_netns(jail.pid());
  Veth first = Veth::create("res-dup", ns.get(), {{addr("198.18.0.9")}});
  try {
    Veth::create("res-dup", ns.get(), {{addr("198.18.0.10")}});
    FAIL("created twice");
  } catch (const SysError& e) {
    CHECK(std::string(e.what()) == "rtnetlink RTM_NEWLINK 'gc-res-dup': File exists");
    CHECK(e.code() == EEXIST);
  }
  CHECK(static_cast<int>(::if_nametoindex("gc-res-dup")) == first.host_index());
  first.destroy();
  jail.send("bye");
  jail.wait();
  require_no_link("res-dup");
}

TEST_CASE("net: a jail whose netns died takes its pair along, and destroy is then a no-op",
          "[kernel][net][root]") {
  GOODCOP_REQUIRE_ROOT();
  std::optional<Veth> v;
  {
    Child jail([](int in, int) { return Child::read_line(in) == "bye" ? 0 : 1; }, CLONE_NEWNET);
    UniqueFd ns = open_netns(jail.pid());
    v = Veth::create("res-gone", ns.get(), {{addr("198.18.0.11")}});
    jail.send("bye");
    jail.wait();
  }  // the last reference to the netns (our fd) is gone: the kernel tears it down (async)
  // Whether the kernel's cleanup_net already ran or not, destroy neither throws nor leaves it.
  v->destroy();
  CHECK(::if_nametoindex("gc-res-gone") == 0);
  require_no_link("res-gone");
}

TEST_CASE("net: clean_stale deletes the link a crashed run left behind", "[kernel][net][root]") {
  GOODCOP_REQUIRE_ROOT();
  Veth::clean_stale("res-stale");
  Child jail([](int in, int) { return Child::read_line(in) == "bye" ? 0 : 1; }, CLONE_NEWNET);
  UniqueFd ns = open_netns(jail.pid());
  // A "crashed supervisor": creates the pair and dies without cleanup.
  Child crashed([&ns](int, int) {
    Veth v = Veth::create("res-stale", ns.get(), {{addr("198.18.0.12")}});
    ::_exit(0);
    return 0;
  });
  CHECK(crashed.wait() == 0);
  REQUIRE(::if_nametoindex("gc-res-stale") != 0);
  CHECK(Veth::clean_stale("res-stale"));
  CHECK(::if_nametoindex("gc-res-stale") == 0);
  CHECK_FALSE(Veth::clean_stale("res-stale"));
  jail.send("bye");
  jail.wait();
  require_no_link("res-stale");
}

TEST_CASE("net: loopback only for network mode none", "[kernel][net][root]") {
  GOODCOP_REQUIRE_ROOT();
  Child jail(
      [](int in, int out) {
        (void)Child::read_line(in);
        std::vector<int> fds = listen_any(8081);
        Child::write_line(out, fds.empty() ? "no listen" : "listening");
        if (fds.empty()) return 3;
        UniqueFd c;
        Child::write_line(out, "lo " + connect_to("127.0.0.1", 8081, c));
        return 0;
      },
      CLONE_NEWNET);
  UniqueFd ns = open_netns(jail.pid());
  RtNetlink in = RtNetlink::open_in_netns(ns.get());
  int lo = in.link_index("lo");
  REQUIRE(lo != 0);
  auto up = [&] {
    for (auto& l : in.links())
      if (l.index == lo) return (l.flags & IFF_UP) != 0;
    return false;
  };
  CHECK_FALSE(up());  // a fresh netns has lo down
  bring_up_loopback(ns.get());
  CHECK(up());
  CHECK(in.links().size() == 1);  // nothing but lo
  jail.send("go");
  CHECK(jail.recv() == "listening");
  CHECK(jail.recv() == "lo ok");
  CHECK(jail.wait() == 0);
}

TEST_CASE("net: the unreachable guard installs and removes only its own route",
          "[kernel][net][root]") {
  GOODCOP_REQUIRE_ROOT();
  RtNetlink nl = RtNetlink::open();
  const Address p4 = addr("198.19.255.0/24");
  const Address p6 = addr("2001:db8:ffff::/48");
  auto unreachable = [&](const Address& p) {
    for (auto& r : nl.routes(p.family))
      if (r.dst == p) return r.type == RTN_UNREACHABLE;
    return false;
  };
  REQUIRE_FALSE(unreachable(p4));
  {
    UnreachableRoute g4(p4);
    UnreachableRoute g6(p6);
    CHECK(g4.owned());
    CHECK(unreachable(p4));
    CHECK(unreachable(p6));
    CHECK(fetch("198.19.255.1", 9) == "error: No route to host");
    {
      UnreachableRoute again(p4);  // already there: not ours, left alone
      CHECK_FALSE(again.owned());
    }
    CHECK(unreachable(p4));
  }
  CHECK_FALSE(unreachable(p4));
  CHECK_FALSE(unreachable(p6));
}

// A dump the kernel marks interrupted (NLM_F_DUMP_INTR: the link table changed between two
// batches of it) used to fail the caller with "Interrupted system call": a daemon starting
// several jails at once saw a start fail so. It is read off and redone.
TEST_CASE("net: a link dump while links come and go is redone and not failed",
          "[kernel][net][root]") {
  GOODCOP_REQUIRE_ROOT();
  // A network namespace of the test's own, with enough links that a dump takes several
  // batches (32 KiB each), and another thread adding and deleting a pair all along.
  Child ns_holder([](int in, int) { return Child::read_line(in) == "bye" ? 0 : 1; },
                  CLONE_NEWNET);
  UniqueFd ns = open_netns(ns_holder.pid());
  RtNetlink in = RtNetlink::open_in_netns(ns.get());
  for (int i = 0; i < 40; ++i)
    in.create_veth("d" + std::to_string(i) + "a", "d" + std::to_string(i) + "b", ns.get());
  std::atomic<bool> stop{false};
  std::string churn_error;
  std::thread churn([&] {
    try {
      RtNetlink nl = RtNetlink::open_in_netns(ns.get());
      while (!stop) {
        int idx = nl.create_veth("churna", "churnb", ns.get());
        nl.delete_link(idx, "churna");
      }
    } catch (const std::exception& e) {
      churn_error = e.what();
    }
  });
  std::string dump_error;
  size_t fewest = SIZE_MAX;
  try {
    for (int i = 0; i < 300; ++i) fewest = std::min(fewest, in.links().size());
  } catch (const std::exception& e) {
    dump_error = e.what();
  }
  stop = true;
  churn.join();
  ns_holder.send("bye");
  CHECK(ns_holder.wait() == 0);
  CHECK(churn_error.empty());
  INFO(dump_error);
  CHECK(dump_error.empty());
  CHECK(fewest >= 81);  // lo and the 40 pairs, every time: never a partial dump
}
