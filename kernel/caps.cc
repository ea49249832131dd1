#include "kernel/caps.h"

#include <sys/capability.h>
#include <sys/prctl.h>

#include <cctype>

#include "base/error.h"
#include "base/scope_exit.h"
#include "kernel/jail.h"

namespace goodcop::kernel {

uint64_t default_capabilities() {
  // What a FreeBSD jail's root may still do: own files, switch users, bind low ports,
  // signal its own processes, chroot inside its tree. Not kept, among others:
  // sys_admin (mount, namespaces), net_admin, net_raw (raw/packet sockets), mknod,
  // sys_module, sys_time, sys_boot, sys_ptrace, sys_rawio, setfcap, setpcap, mac_*,
  // audit_control, syslog, dac_read_search (open_by_handle_at, the "shocker" escape).
  uint64_t m = 0;
  for (int c : {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_KILL, CAP_SETGID,
                CAP_SETUID, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_AUDIT_WRITE})
    m |= uint64_t{1} << c;
  return m;
}

void drop_bounding_set(uint64_t keep) {
  int last = static_cast<int>(cap_max_bits()) - 1;
  for (int c = 0; c <= last && c < 64; ++c) {
    if ((keep >> c) & 1) continue;
    check(cap_drop_bound(static_cast<cap_value_t>(c)), "drop capability",
          capability_names(uint64_t{1} << c));
  }
  check(cap_reset_ambient(), "prctl", "PR_CAP_AMBIENT_CLEAR_ALL");
  cap_t caps = cap_get_proc();
  if (caps == nullptr) check(-1, "capget");
  ScopeExit free_caps([&] { cap_free(caps); });
  check(cap_clear_flag(caps, CAP_INHERITABLE), "cap_clear_flag");
  check(cap_set_proc(caps), "capset");
}

void drop_all_capabilities(uint64_t keep) {
  cap_t caps = cap_init();
  if (caps == nullptr) check(-1, "cap_init");
  ScopeExit free_caps([&] { cap_free(caps); });
  for (int c = 0; c < 64; ++c) {
    if (((keep >> c) & 1) == 0) continue;
    cap_value_t v = static_cast<cap_value_t>(c);
    check(cap_set_flag(caps, CAP_PERMITTED, 1, &v, CAP_SET), "cap_set_flag");
    check(cap_set_flag(caps, CAP_EFFECTIVE, 1, &v, CAP_SET), "cap_set_flag");
  }
  check(cap_set_proc(caps), "capset");
}

std::optional<int> capability_from_name(std::string_view name) {
  std::string s(name);
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (s.rfind("cap_", 0) != 0) s = "cap_" + s;
  cap_value_t v = 0;
  if (cap_from_name(s.c_str(), &v) != 0 || v < 0 || v >= 64) return std::nullopt;
  return static_cast<int>(v);
}

std::string capability_names(uint64_t mask) {
  std::string out;
  for (int c = 0; c < 64; ++c) {
    if (((mask >> c) & 1) == 0) continue;
    char* n = cap_to_name(static_cast<cap_value_t>(c));
    std::string name = n != nullptr ? n : std::to_string(c);
    if (n != nullptr) cap_free(n);
    if (name.rfind("cap_", 0) == 0) name.erase(0, 4);
    if (!out.empty()) out += ',';
    out += name;
  }
  return out;
}

}  // namespace goodcop::kernel
