#pragma once
// The jail's cgroups: resource limits (memory, pids, cpu), the freezer, kill-all and the
// statistics the evidence layer records.
//
// The host's layout is detected at run time from /proc/self/mountinfo and the v2 root's
// cgroup.controllers: a controller is used through cgroup v2 when the v2 hierarchy offers it,
// otherwise through its own v1 hierarchy (this kind of machine: v1 memory, pids, cpu, cpuacct,
// freezer, plus a v2 hierarchy without controllers that still has cgroup.freeze and
// cgroup.kill). A jail named NAME gets `goodcop/NAME` below the root of every hierarchy it
// needs. The `goodcop` parent is created when missing and deliberately left in place (empty,
// harmless, and removing it would race another jail being created).
//
// Joining: JailCgroup::add(pid) writes the pid into every hierarchy. The recipe calls it from
// the parent while the child is still blocked (on a pipe) before it unshares the cgroup
// namespace and execs, so the jail's cgroup namespace root is its own cgroup and no jail
// process ever runs outside the limits. join_fds()/join_self() are the alternative for a
// child that must join by itself (async-signal-safe, usable between fork and exec).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/fd.h"

namespace goodcop {

// The limits of one jail; an empty optional means "no limit".
struct Limits {
  std::optional<uint64_t> memory_bytes;  // RAM; swap is forbidden (memsw / swap.max = 0)
  std::optional<uint64_t> pids;          // processes + threads
  std::optional<uint64_t> cpu_millis;    // 1000 = one full CPU, 500 = half a CPU; minimum 10
};

// What the kernel accounted for a jail. An empty optional: the host does not offer it.
struct CgroupStats {
  std::optional<uint64_t> memory_current;  // bytes in use now
  std::optional<uint64_t> memory_peak;     // high-water mark in bytes
  std::optional<uint64_t> memory_max;      // the limit in bytes (nullopt = unlimited)
  std::optional<uint64_t> oom_kills;       // processes the OOM killer killed in the jail
  std::optional<uint64_t> pids_current;    // tasks now
  std::optional<uint64_t> pids_max;        // the limit (nullopt = unlimited)
  std::optional<uint64_t> cpu_usage_ns;    // CPU time consumed, user + system
};

// One cgroup hierarchy as mounted on this host.
struct CgroupHierarchy {
  std::string mount_point;               // e.g. /sys/fs/cgroup/memory or /sys/fs/cgroup/unified
  bool v2 = false;                       // cgroup2 (unified) or a v1 hierarchy
  std::vector<std::string> controllers;  // v1: bound controllers; v2: cgroup.controllers
};

// The host's cgroup layout, read from /proc/self/mountinfo (first mount of each kind wins).
struct CgroupLayout {
  std::optional<CgroupHierarchy> v2;
  std::vector<CgroupHierarchy> v1;
  // Detects the layout of the calling process's mount namespace. Throws SysError.
  static CgroupLayout detect();
  // The v1 hierarchy bound to `controller`, or nullptr.
  const CgroupHierarchy* v1_for(const std::string& controller) const;
  // True when the v2 hierarchy offers `controller`.
  bool v2_has(const std::string& controller) const;
};

// Fds opened in advance on every cgroup.procs of a jail, for join_self().
struct CgroupJoinFds {
  std::vector<UniqueFd> procs;
};

// Moves the calling process into the jail's cgroups by writing "0" to each fd.
// Async-signal-safe (write(2) only): callable in a child between fork/clone and exec.
// Returns 0 or the errno of the first failing write. The fds were opened by the parent, so the
// kernel checks the parent's credentials (cgroup_procs_write_permission, since CVE-2021-4197).
int join_self(const CgroupJoinFds& fds) noexcept;

// The owner of one jail's cgroups. Move-only; the destructor destroys (kills what is left).
class JailCgroup {
 public:
  // Creates goodcop/<name> in every hierarchy needed for `limits`, freezing, killing and stats,
  // and applies the limits. Throws Error when a limit needs a controller this host lacks,
  // SysError on a failed write, Error("cgroup 'NAME' already exists") when a directory is
  // there (call clean_stale first after a crash). `name`: [A-Za-z0-9_.-], 1..64 chars.
  static JailCgroup create(const std::string& name, const Limits& limits,
                           const CgroupLayout& layout = CgroupLayout::detect());

  // Kills and removes leftovers of a crashed run named `name` (no-op when there are none).
  static void clean_stale(const std::string& name,
                          const CgroupLayout& layout = CgroupLayout::detect());

  // Takes ownership of the goodcop/<name> directories an earlier process created (a daemon
  // that crashed while its jail ran on), or nullopt when there are none. Only real
  // directories owned by root at exactly <hierarchy root>/goodcop/<name> count: a cgroup
  // delegated to (and chown'ed by) someone else is never taken. Touches nothing.
  static std::optional<JailCgroup> open_existing(
      const std::string& name, const CgroupLayout& layout = CgroupLayout::detect());

  JailCgroup(JailCgroup&& o) noexcept;
  JailCgroup& operator=(JailCgroup&& o) noexcept;
  JailCgroup(const JailCgroup&) = delete;
  JailCgroup& operator=(const JailCgroup&) = delete;
  ~JailCgroup();

  const std::string& name() const noexcept { return name_; }
  // Every directory created, e.g. /sys/fs/cgroup/memory/goodcop/web1 (for tests and evidence).
  std::vector<std::string> dirs() const;
  // The v2 directory, or "" when the host has no v2 hierarchy. An O_DIRECTORY fd of it
  // is what clone3(CLONE_INTO_CGROUP) takes (it covers v2 only; v1 still needs add()).
  const std::string& v2_dir() const noexcept { return v2_dir_; }

  // Moves `pid` (the whole thread group) into every hierarchy. Throws SysError.
  void add(pid_t pid) const;
  // Opens every cgroup.procs for writing, for join_self() in a child. Throws SysError.
  CgroupJoinFds join_fds() const;

  // Freezes every process and returns once the kernel reports the cgroup frozen
  // (v2 cgroup.events "frozen 1", v1 freezer.state FROZEN). Throws Error on timeout.
  void freeze(std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  // Thaws; returns once the kernel reports it thawed.
  void thaw(std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  // True when the freezer reports the cgroup frozen.
  bool frozen() const;

  // SIGKILLs every process (v2 cgroup.kill; otherwise freeze, kill each pid, thaw, repeat) and
  // returns once none is left. Throws Error if processes remain after `timeout`.
  void kill_all(std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  // The processes in the jail's cgroups (sub-cgroups included), in no particular order.
  std::vector<pid_t> pids() const;
  // Reads the statistics. Throws SysError when a file that should be there cannot be read.
  CgroupStats stats() const;

  // Forgets the directories without touching them: the destructor then leaves them alone.
  void release() noexcept;

  // kill_all(), then rmdir every directory bottom-up. Idempotent; the destructor calls it
  // (swallowing errors). Throws on failure (processes that will not die, EBUSY).
  void destroy();

 private:
  JailCgroup() = default;
  struct Dir {
    std::string path;                      // absolute directory
    std::vector<std::string> controllers;  // empty: the v2 directory; else the v1 hierarchy's
  };
  const Dir* find(const std::string& controller) const;

  std::string name_;
  std::vector<Dir> dirs_;  // creation order; destroyed in reverse
  std::string v2_dir_;
  bool v2_freeze_ = false;  // cgroup.freeze present in v2_dir_
  bool v2_kill_ = false;    // cgroup.kill present in v2_dir_
};

}  // namespace goodcop
