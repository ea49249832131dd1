// `goodcop policy show`: the normalized policy with every default written out, as
// YAML that loads back to the same Policy (a test round-trips it).
#include <cstdio>

#include "base/parse.h"
#include "config/policy.h"

namespace goodcop::config {
namespace {

// Double-quoted YAML scalar: always safe, whatever the value holds (':', '#', '[' ...).
std::string q(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string flow(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + q(v[i]);
  return out + "]";
}

std::string cpu(uint32_t milli) {
  std::string s = std::to_string(milli / 1000);
  uint32_t frac = milli % 1000;
  if (frac == 0) return s;
  char buf[8];
  std::snprintf(buf, sizeof buf, "%03u", frac);
  std::string f = buf;
  while (f.back() == '0') f.pop_back();
  return s + "." + f;
}

const char* name_of(Network n) {
  return n == Network::none ? "none" : n == Network::veth ? "veth" : "host";
}
const char* name_of(OnTamper t) {
  return t == OnTamper::heal ? "heal" : t == OnTamper::freeze ? "freeze" : "alert";
}

}  // namespace

std::string format_policy(const Policy& p) {
  std::string o;
  auto line = [&](std::string_view indent, std::string_view key, const std::string& value) {
    o += std::string(indent) + std::string(key) + ": " + value + "\n";
  };
  auto addrs = [&](const char* key, const std::vector<Address>& v) {
    if (v.empty()) return;
    std::vector<std::string> s;
    for (const Address& a : v) s.push_back(a.str());
    line("", key, flow(s));
  };
  line("", "name", q(p.name));
  if (!p.description.empty()) line("", "description", q(p.description));
  line("", "path", q(p.path));
  line("", "hostname", q(p.hostname));
  addrs("ip4", p.ip4);
  addrs("ip6", p.ip6);
  line("", "network", name_of(p.network));
  o += "exec:\n";
  line("  ", "start", flow(p.exec.start));
  if (!p.exec.stop.empty()) line("  ", "stop", flow(p.exec.stop));
  line("  ", "user", p.exec.user.uid ? std::to_string(*p.exec.user.uid) : q(p.exec.user.name));
  if (!p.exec.env.empty()) {
    o += "  env:\n";
    for (const auto& [k, v] : p.exec.env) line("    ", k, q(v));
  }
  line("  ", "cwd", q(p.exec.cwd));
  line("  ", "init", p.exec.init == Init::goodcop ? "goodcop" : "jail");
  o += "stop:\n";
  line("  ", "timeout", format_duration(p.stop_timeout));
  line("", "golden", q(p.golden));
  line("", "storage", p.storage == Storage::overlay ? "overlay" : "plain");
  o += "watch:\n";
  line("  ", "interval", format_duration(p.watch.interval));
  line("  ", "full_every", format_duration(p.watch.full_every));
  if (!p.watch.ignore.empty()) line("  ", "ignore", flow(p.watch.ignore));
  line("  ", "triggers", p.watch.triggers ? "true" : "false");
  if (!p.keep.empty()) line("", "keep", flow(p.keep));
  if (!p.mounts.empty()) {
    o += "mounts:\n";
    for (const Mount& m : p.mounts)
      o += "  - {source: " + q(m.source) + ", target: " + q(m.target) +
           ", mode: " + (m.mode == MountMode::ro ? "ro" : "rw") + "}\n";
  }
  const auto& l = p.limits;
  if (l.memory || l.pids || l.cpu_milli || l.disk) {
    o += "limits:\n";
    if (l.memory) line("  ", "memory", format_size(*l.memory));
    if (l.pids) line("  ", "pids", std::to_string(*l.pids));
    if (l.cpu_milli) line("  ", "cpu", cpu(*l.cpu_milli));
    if (l.disk) line("  ", "disk", format_size(*l.disk));
  }
  line("", "userns", p.userns ? "true" : "false");
  if (!p.capabilities.empty()) line("", "capabilities", flow(p.capabilities));
  line("", "on_tamper", name_of(p.on_tamper));
  o += "evidence:\n";
  line("  ", "dir", q(p.evidence.dir));
  line("  ", "keep", std::to_string(p.evidence.keep));
  if (!p.evidence.sign_key.empty()) line("  ", "sign_key", q(p.evidence.sign_key));
  o += "restart:\n";
  line("  ", "backoff", format_duration(p.restart.backoff));
  line("  ", "max", std::to_string(p.restart.max));
  return o;
}

}  // namespace goodcop::config
