#include "config/values.h"

#include <arpa/inet.h>

#include <algorithm>
#include <vector>

#include "base/parse.h"

namespace goodcop::config {
namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string got(std::string_view s) {
  // Long hostile values are cut so one diagnostic stays one readable line.
  if (s.size() > 80) return ", got '" + std::string(s.substr(0, 77)) + "...'";
  return ", got '" + std::string(s) + "'";
}

}  // namespace

std::string check_name(std::string_view s) {
  bool ok = !s.empty() && s.size() <= 31 && is_lower_alnum(s[0]) &&
            std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
  if (ok) return {};
  return "expected 1 to 31 lower-case letters, digits or '-', starting with a letter or digit" +
         got(s);
}

std::string check_hostname(std::string_view s) {
  std::string expected = "expected an RFC 1123 host name of at most 64 characters" + got(s);
  if (s.empty() || s.size() > 64) return expected;
  size_t start = 0;
  for (;;) {
    size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return expected;
    for (char c : label)
      if (!is_alpha(c) && !is_digit(c) && c != '-') return expected;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return {};
}

std::string check_path(std::string_view s) {
  if (s.empty() || s[0] != '/') return "expected an absolute path" + got(s);
  if (s.size() > 4095) return "path is longer than 4095 bytes";
  if (s.find('\0') != std::string_view::npos) return "path contains a NUL byte";
  if (s == "/") return {};
  if (s.back() == '/') return "'" + std::string(s) + "' is not normalized (trailing '/')";
  size_t start = 1;
  for (;;) {
    size_t slash = s.find('/', start);
    std::string_view c = s.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (c.empty()) return "'" + std::string(s) + "' is not normalized (empty component)";
    if (c == ".") return "'" + std::string(s) + "' is not normalized ('.' component)";
    if (c == "..") return "'" + std::string(s) + "' contains '..'";
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return {};
}

bool paths_overlap(std::string_view a, std::string_view b) {
  if (a.size() > b.size()) std::swap(a, b);
  // a is the shorter: equal, or b continues a at a component boundary.
  if (b.substr(0, a.size()) != a) return false;
  return a.size() == b.size() || a == "/" || b[a.size()] == '/';
}

std::string parse_address(std::string_view s, bool v6, Address& out) {
  const char* family = v6 ? "IPv6" : "IPv4";
  std::string expected =
      std::string("expected an ") + family + " address" +
      (v6 ? " such as 2001:db8::2 or 2001:db8::2/64" : " such as 198.18.0.2 or 198.18.0.2/24") +
      got(s);
  size_t slash = s.find('/');
  std::string addr(s.substr(0, slash));
  Address a;
  a.v6 = v6;
  unsigned char buf[16] = {};
  if (::inet_pton(v6 ? AF_INET6 : AF_INET, addr.c_str(), buf) != 1) {
    unsigned char other[16];
    if (::inet_pton(v6 ? AF_INET : AF_INET6, addr.c_str(), other) == 1)
      return "'" + addr + "' is an " + (v6 ? "IPv4" : "IPv6") + " address (it belongs in " +
             (v6 ? "ip4" : "ip6") + ")";
    return expected;
  }
  std::copy(buf, buf + 16, a.bytes.begin());
  unsigned max = v6 ? 128 : 32;
  a.prefix = max;
  if (slash != std::string_view::npos) {
    std::string_view p = s.substr(slash + 1);
    auto n = parse_uint(p, 1, max);
    if (!n || (p.size() > 1 && p[0] == '0'))
      return "expected a prefix length from 1 to " + std::to_string(max) + got(s);
    a.prefix = static_cast<unsigned>(n.value);
  }
  auto why = [&](const char* what) {
    return "'" + std::string(s) + "' is " + what + ", not usable by a jail";
  };
  const auto& b = a.bytes;
  if (!v6) {
    uint32_t x = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
    if (x == 0) return why("the unspecified address");
    if (b[0] == 0) return why("in 0.0.0.0/8 (\"this network\")");
    if (b[0] == 127) return why("a loopback address");
    if (b[0] >= 224 && b[0] <= 239) return why("a multicast address");
    if (x == 0xffffffffu) return why("the broadcast address");
    if (b[0] >= 240) return why("a reserved address");
    if (b[0] == 169 && b[1] == 254) return why("a link-local address");
    if (a.prefix <= 30) {
      uint32_t host = a.prefix == 32 ? 0 : (0xffffffffu >> a.prefix);
      if ((x & host) == 0) return why("the network address of its prefix");
      if ((x & host) == host) return why("the broadcast address of its prefix");
    }
  } else {
    bool zero = std::all_of(b.begin(), b.end(), [](uint8_t v) { return v == 0; });
    if (zero) return why("the unspecified address");
    bool loop =
        std::all_of(b.begin(), b.begin() + 15, [](uint8_t v) { return v == 0; }) && b[15] == 1;
    if (loop) return why("the loopback address");
    if (b[0] == 0xff) return why("a multicast address");
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return why("a link-local address");
    bool mapped = std::all_of(b.begin(), b.begin() + 10, [](uint8_t v) { return v == 0; }) &&
                  b[10] == 0xff && b[11] == 0xff;
    if (mapped) return why("an IPv4-mapped address");
  }
  out = a;
  return {};
}

std::string parse_glob(std::string_view s, std::string& out) {
  if (s.empty()) return "expected a glob pattern, got an empty string";
  std::string_view rest = s;
  if (rest[0] == '/') rest.remove_prefix(1);
  if (rest.empty()) return "'" + std::string(s) + "' would ignore the whole jail";
  std::string norm;
  size_t start = 0;
  for (;;) {
    size_t slash = rest.find('/', start);
    std::string_view c =
        rest.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (c.empty()) return "'" + std::string(s) + "' has an empty path component";
    if (c == "." || c == "..")
      return "'" + std::string(s) + "' contains a '" + std::string(c) + "' component";
    if (c.find("**") != std::string_view::npos && c != "**")
      return "'" + std::string(s) + "': '**' must be a whole path component";
    for (size_t i = 0; i < c.size(); ++i) {
      if (c[i] == '\\') {
        if (++i == c.size()) return "'" + std::string(s) + "' ends a component with '\\'";
      } else if (c[i] == '[') {
        size_t j = i + 1;
        if (j < c.size() && (c[j] == '!' || c[j] == '^')) ++j;
        if (j < c.size() && c[j] == ']') ++j;  // "[]a]": a leading ']' is literal
        while (j < c.size() && c[j] != ']') ++j;
        if (j >= c.size()) return "'" + std::string(s) + "' has an unclosed '['";
        i = j;
      }
    }
    norm += '/';
    norm += c;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (norm == "/**") return "'" + std::string(s) + "' would ignore the whole jail";
  out = std::move(norm);
  return {};
}

std::string parse_cpu(std::string_view s, uint32_t& milli) {
  std::string expected =
      "expected a number of CPUs such as 0.5, 1 or 2.25 (at most 3 decimals)" + got(s);
  size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  if (whole.empty() || whole.size() > 4 || (whole.size() > 1 && whole[0] == '0')) return expected;
  if (!std::all_of(whole.begin(), whole.end(), is_digit)) return expected;
  if (dot != std::string_view::npos &&
      (frac.empty() || frac.size() > 3 || !std::all_of(frac.begin(), frac.end(), is_digit)))
    return expected;
  uint32_t v = 0;
  for (char c : whole) v = v * 10 + static_cast<uint32_t>(c - '0');
  v *= 1000;
  uint32_t scale = 100;
  for (char c : frac) {
    v += static_cast<uint32_t>(c - '0') * scale;
    scale /= 10;
  }
  if (v < 10 || v > 1'024'000) return "expected from 0.01 to 1024 CPUs" + got(s);
  milli = v;
  return {};
}

std::string parse_user(std::string_view s, ExecUser& out) {
  if (!s.empty() && std::all_of(s.begin(), s.end(), is_digit)) {
    auto n = parse_uint(s, 0, 4294967294u);
    if (!n) return "expected a uid from 0 to 4294967294" + got(s);
    out = ExecUser{"", static_cast<uint32_t>(n.value)};
    return {};
  }
  bool ok = !s.empty() && s.size() <= 32 && ((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_') &&
            std::all_of(s.begin(), s.end(),
                        [](char c) { return is_lower_alnum(c) || c == '_' || c == '-'; });
  if (!ok) return "expected a user name ([a-z_][a-z0-9_-]*, at most 32) or a uid" + got(s);
  out = ExecUser{std::string(s), std::nullopt};
  return {};
}

std::string check_env_name(std::string_view s) {
  bool ok = !s.empty() && s.size() <= 255 && (is_alpha(s[0]) || s[0] == '_') &&
            std::all_of(s.begin(), s.end(),
                        [](char c) { return is_alpha(c) || is_digit(c) || c == '_'; });
  if (ok) return {};
  return "expected a variable name ([A-Za-z_][A-Za-z0-9_]*)" + got(s);
}

const std::vector<std::string_view>& capability_names() {
  // In kernel order (include/uapi/linux/capability.h), 0 to 40.
  static const std::vector<std::string_view> names = {"CAP_CHOWN",
                                                      "CAP_DAC_OVERRIDE",
                                                      "CAP_DAC_READ_SEARCH",
                                                      "CAP_FOWNER",
                                                      "CAP_FSETID",
                                                      "CAP_KILL",
                                                      "CAP_SETGID",
                                                      "CAP_SETUID",
                                                      "CAP_SETPCAP",
                                                      "CAP_LINUX_IMMUTABLE",
                                                      "CAP_NET_BIND_SERVICE",
                                                      "CAP_NET_BROADCAST",
                                                      "CAP_NET_ADMIN",
                                                      "CAP_NET_RAW",
                                                      "CAP_IPC_LOCK",
                                                      "CAP_IPC_OWNER",
                                                      "CAP_SYS_MODULE",
                                                      "CAP_SYS_RAWIO",
                                                      "CAP_SYS_CHROOT",
                                                      "CAP_SYS_PTRACE",
                                                      "CAP_SYS_PACCT",
                                                      "CAP_SYS_ADMIN",
                                                      "CAP_SYS_BOOT",
                                                      "CAP_SYS_NICE",
                                                      "CAP_SYS_RESOURCE",
                                                      "CAP_SYS_TIME",
                                                      "CAP_SYS_TTY_CONFIG",
                                                      "CAP_MKNOD",
                                                      "CAP_LEASE",
                                                      "CAP_AUDIT_WRITE",
                                                      "CAP_AUDIT_CONTROL",
                                                      "CAP_SETFCAP",
                                                      "CAP_MAC_OVERRIDE",
                                                      "CAP_MAC_ADMIN",
                                                      "CAP_SYSLOG",
                                                      "CAP_WAKE_ALARM",
                                                      "CAP_BLOCK_SUSPEND",
                                                      "CAP_AUDIT_READ",
                                                      "CAP_PERFMON",
                                                      "CAP_BPF",
                                                      "CAP_CHECKPOINT_RESTORE"};
  return names;
}

std::string check_capability(std::string_view s) {
  const auto& names = capability_names();
  if (std::find(names.begin(), names.end(), s) == names.end())
    return "unknown capability '" + std::string(s) + "'" + did_you_mean(s, names);
  // Capabilities that reach past the jail's namespaces to the host kernel.
  static const std::pair<std::string_view, std::string_view> refused[] = {
      {"CAP_SYS_ADMIN", "mount, namespaces and much of the kernel"},
      {"CAP_SYS_MODULE", "loads kernel modules"},
      {"CAP_SYS_RAWIO", "raw I/O ports and memory"},
      {"CAP_SYS_BOOT", "reboots the host"},
      {"CAP_SYS_TIME", "sets the host clock"},
      {"CAP_DAC_READ_SEARCH", "open_by_handle_at escapes the root (\"shocker\", 2014)"},
      {"CAP_LINUX_IMMUTABLE", "immutable files would block restores"},
      {"CAP_MAC_ADMIN", "changes the host's LSM policy"},
      {"CAP_MAC_OVERRIDE", "bypasses the host's LSM policy"},
      {"CAP_SYSLOG", "reads kernel addresses from the host log"},
      {"CAP_AUDIT_CONTROL", "changes the host's audit rules"},
      {"CAP_BPF", "loads BPF programs into the host kernel"},
      {"CAP_PERFMON", "observes the host with perf events"},
      {"CAP_SYS_PACCT", "switches the host's process accounting"},
      {"CAP_SYS_TTY_CONFIG", "reconfigures host terminals"},
  };
  for (const auto& [name, why] : refused)
    if (s == name)
      return "capability '" + std::string(s) + "' is not allowed in a jail (" + std::string(why) +
             ")";
  return {};
}

}  // namespace goodcop::config
