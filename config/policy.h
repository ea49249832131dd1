#pragma once
// The policy of one jail: a typed, validated value loaded from one YAML file per
// jail (docs/policy.md is the reference of every key). config/ knows nothing of
// namespaces: the watchdog maps a Policy to the kernel's JailSpec.

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/diag.h"

namespace goodcop::config {

// An IPv4 or IPv6 interface address with its prefix length (/32 or /128 when not written).
struct Address {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // network byte order; IPv4 uses the first 4
  unsigned prefix = 0;
  // "198.18.0.2/24", "2001:db8::2/64" (canonical form, prefix always written).
  std::string str() const;
  // The address alone, as used in "already used" messages: "198.18.0.2".
  std::string addr_str() const;
  bool same_addr(const Address& o) const { return v6 == o.v6 && bytes == o.bytes; }
};

enum class Network { none, veth, host };
enum class Init { goodcop, jail };
enum class Storage { overlay, plain };
enum class OnTamper { heal, freeze, alert };
enum class MountMode { ro, rw };

// One extra bind mount from the host into the jail.
struct Mount {
  std::string source;  // absolute host path
  std::string target;  // absolute path inside the jail
  MountMode mode = MountMode::ro;
};

// Who the jail's services run as: a user name of the jail, or a numeric uid.
struct ExecUser {
  std::string name;  // empty when uid is set
  std::optional<uint32_t> uid;
  std::string str() const { return uid ? std::to_string(*uid) : name; }
};

// One jail's policy. Defaults are filled in by the loader; see docs/policy.md.
struct Policy {
  std::string file;  // where it was loaded from (for messages)
  std::string name;
  std::string description;
  std::string path;
  std::string hostname;  // defaults to name
  std::vector<Address> ip4;
  std::vector<Address> ip6;
  Network network = Network::none;
  struct Exec {
    std::vector<std::string> start;
    std::vector<std::string> stop;  // optional graceful stop command
    ExecUser user{"root", std::nullopt};
    std::vector<std::pair<std::string, std::string>> env;  // in file order
    std::string cwd = "/";
    Init init = Init::goodcop;
  } exec;
  std::chrono::milliseconds stop_timeout{10'000};
  std::string golden;  // defaults to /var/lib/goodcop/golden/<name>
  Storage storage = Storage::overlay;
  struct Watch {
    std::chrono::milliseconds interval{5'000};
    std::chrono::milliseconds full_every{3'600'000};
    std::vector<std::string> ignore;  // normalized globs, always starting with '/'
    bool triggers = true;
  } watch;
  std::vector<std::string> keep;
  std::vector<Mount> mounts;
  struct Limits {
    std::optional<uint64_t> memory;  // bytes
    std::optional<uint32_t> pids;
    std::optional<uint32_t> cpu_milli;  // thousandths of a CPU: "0.5" -> 500
    std::optional<uint64_t> disk;       // bytes
  } limits;
  bool userns = true;
  std::vector<std::string> capabilities;  // "CAP_NET_BIND_SERVICE", ...
  OnTamper on_tamper = OnTamper::heal;
  struct Evidence {
    std::string dir;  // defaults to /var/lib/goodcop/evidence/<name>
    uint32_t keep = 20;
    std::string sign_key;  // empty: bundles are not signed
  } evidence;
  struct Restart {
    std::chrono::milliseconds backoff{1'000};
    uint32_t max = 5;
  } restart;

  // Where each key (dotted, list items as "ip4[1]") was written; absent for defaults.
  std::map<std::string, Location, std::less<>> locations;
  // The position of `key`, else of `name`, else 1:1 (for messages about defaults).
  Location at(std::string_view key) const;
};

// A file's outcome: the policy when it is valid, and every problem found otherwise.
struct FileResult {
  std::string file;
  std::optional<Policy> policy;  // set only when diags is empty
  std::vector<Diag> diags;
  bool ok() const { return diags.empty(); }
};

// Parses and validates policy text (no filesystem access); `file` names it in diagnostics.
FileResult parse_policy(std::string_view text, const std::string& file);

// How files are opened.
struct LoadOptions {
  // Like sshd's StrictModes: the file, its directory and every ancestor must be owned
  // by root and not writable by group or others (sticky root-owned dirs such as /tmp
  // are fine). Only `goodcop policy check --no-strict-modes` turns this off.
  bool strict_modes = true;
};

// Opens (O_NOFOLLOW), checks ownership and mode on the opened fd, reads (at most 1M) and
// parses one policy file. Problems, including OS errors, are returned as diagnostics.
FileResult load_policy_file(const std::string& path, const LoadOptions& opts = {});

// The policies of a directory: every regular "*.yaml" / "*.yml" file whose name does not
// start with '.', in name order, each validated alone and then against the others
// (names, jail paths, addresses, evidence directories, binds).
struct DirResult {
  std::string dir;
  std::vector<Diag> diags;        // problems with the directory itself
  std::vector<FileResult> files;  // in name order
  bool ok() const;
};
DirResult load_policy_dir(const std::string& dir, const LoadOptions& opts = {});

// The checks across files of one directory; appends to the later file's diagnostics and
// clears its policy. Exposed for tests and for the daemon's reload.
void cross_check(std::vector<FileResult>& files);

// The normalized policy with every default written out, as YAML that loads back to the
// same Policy (`goodcop policy show`).
std::string format_policy(const Policy& p);

// The names the schema knows, dotted ("exec.start"), in table order (for docs and tests).
std::vector<std::string_view> policy_keys();

}  // namespace goodcop::config
