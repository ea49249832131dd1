#include "watchdog/driver/policy_map.h"

#include "base/error.h"
#include "base/parse.h"
#include "kernel/caps.h"
#include "kernel/netlink.h"
#include "kernel/users.h"

namespace goodcop::driver {

JailPaths jail_paths(const std::string& state_dir, const std::string& name) {
  JailPaths p;
  p.dir = state_dir + "/jails/" + name;
  p.data = p.dir + "/data";
  p.output = p.dir + "/output.log";
  p.lower = state_dir + "/lower";
  return p;
}

supervisor::JailConfig jail_config(const config::Policy& p) {
  supervisor::JailConfig c;
  c.name = p.name;
  c.interval = p.watch.interval;
  switch (p.on_tamper) {
    case config::OnTamper::heal:
      c.on_tamper = supervisor::OnTamper::kHeal;
      break;
    case config::OnTamper::freeze:
      c.on_tamper = supervisor::OnTamper::kFreeze;
      break;
    case config::OnTamper::alert:
      c.on_tamper = supervisor::OnTamper::kAlert;
      break;
  }
  c.restart.base = p.restart.backoff;
  c.restart.max_failures = p.restart.max;
  return c;
}

std::vector<std::string> check_ignores(const config::Policy& p) {
  std::vector<std::string> out;
  auto rel = [](const std::string& s) { return s.substr(s.find_first_not_of('/')); };
  for (const auto& g : p.watch.ignore) out.push_back(rel(g));
  for (const auto& k : p.keep) out.push_back(rel(k) + "/**");
  return out;
}

namespace {

// exec.user: a uid, "root", or a name. A name is looked up in the jail's own /etc/passwd
// and /etc/group (kernel/users.h: read inside the tree, never the host's), with its
// supplementary groups; a uid runs with the same gid and no other group.
struct Ids {
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> groups;  // empty: the gid alone
};

Ids user_ids(const config::Policy& p) {
  const auto& u = p.exec.user;
  if (u.uid) return {*u.uid, *u.uid, {}};
  if (u.name == "root") return {0, 0, {}};
  try {
    auto [uid, gid] = kernel::resolve_user(p.path, u.name);
    return {uid, gid, kernel::resolve_groups(p.path, u.name, gid)};
  } catch (const std::exception& e) {
    throw Error("jail '" + p.name + "': exec.user: " + e.what());
  }
}

}  // namespace

kernel::JailSpec jail_spec(const config::Policy& p, const JailPaths& paths, int null_fd, int output_fd) {
  kernel::JailSpec s;
  s.name = p.name;
  s.root = p.path;
  s.hostname = p.hostname.empty() ? p.name : p.hostname;
  switch (p.network) {
    case config::Network::none:
      s.net = kernel::NetMode::kNone;
      break;
    case config::Network::veth:
      s.net = kernel::NetMode::kVeth;
      break;
    case config::Network::host:
      s.net = kernel::NetMode::kHost;
      break;
  }
  if (s.net == kernel::NetMode::kVeth) {
    for (const auto* list : {&p.ip4, &p.ip6}) {
      for (const auto& a : *list) {
        auto parsed = parse_address(a.str());
        if (!parsed) throw Error("jail '" + p.name + "': " + parsed.error);
        s.addresses.push_back(parsed.value);
      }
    }
  }
  s.argv = p.exec.start;
  for (const auto& [k, v] : p.exec.env) s.env.push_back(k + "=" + v);
  s.cwd = p.exec.cwd;
  Ids ids = user_ids(p);
  s.uid = ids.uid;
  s.gid = ids.gid;
  s.groups = std::move(ids.groups);
  if (p.limits.memory) s.limits.memory_bytes = *p.limits.memory;
  if (p.limits.pids) s.limits.pids = *p.limits.pids;
  if (p.limits.cpu_milli) s.limits.cpu_millis = *p.limits.cpu_milli;
  for (const auto& m : p.mounts)
    s.binds.push_back({m.source, m.target, m.mode == config::MountMode::rw});
  for (const auto& k : p.keep) s.binds.push_back({paths.data + k, k, true});
  s.userns = p.userns;
  for (const auto& name : p.capabilities) {
    auto cap = kernel::capability_from_name(name);
    if (!cap) throw Error("jail '" + p.name + "': unknown capability '" + name + "'");
    s.capabilities |= uint64_t{1} << *cap;
  }
  s.init = p.exec.init == config::Init::jail ? kernel::InitMode::kJail : kernel::InitMode::kGoodcop;
  s.die_with_parent = false;  // a daemon restart adopts its jails instead of killing them
  s.stdio[0] = null_fd;
  s.stdio[1] = output_fd;
  s.stdio[2] = output_fd;
  return s;
}

std::string fingerprint(const config::Policy& p) { return config::format_policy(p); }

}  // namespace goodcop::driver
