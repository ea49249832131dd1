#pragma once
// A FreeBSD-style jail on Linux namespaces: JailSpec → running jail.
//
// start() spawns the setup helper (goodcop-jail-helper, or goodcop itself; never from a
// writable host path, CVE-2019-5736, see Helper) into a single-threaded setup mode
// (run_internal_mode) that creates the namespaces, builds the jail's filesystem, muzzles root and
// runs the command under goodcop's tiny init. Failures come back as "jail 'web1': pivot_root
// '/srv/j': Invalid argument".

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/fd.h"
#include "kernel/cgroup.h"
#include "kernel/net.h"
#include "kernel/netlink.h"

namespace goodcop::kernel {

// How the jail reaches the network. kNone: its own loopback only. kVeth: its own addresses
// on a veth pair whose host side routes to them. kHost: the host's network (asked for).
enum class NetMode { kNone, kVeth, kHost };

// Who is pid 1 in the jail: goodcop's own init (reaps, forwards signals, exits with the
// command's status) or the jail's own program (argv[0], typically /sbin/init).
enum class InitMode { kGoodcop, kJail };

// A bind mount from the host into the jail. Always nosuid,nodev; read-only unless writable.
struct Bind {
  std::string source;  // absolute host path
  std::string target;  // absolute path inside the jail (must exist in the jail's tree)
  bool writable = false;
};

// The capabilities root in the jail keeps in its bounding set by default (docs/jail.md).
uint64_t default_capabilities();

// Everything needed to start a jail. The caller (the watchdog, `goodcop jail`) fills it;
// no YAML here.
struct JailSpec {
  std::string name;  // names host objects goodcop-<name>; [a-z0-9_-], 1..32 characters
  std::string root;  // absolute host path of the jail's tree, or "/" (host view)
  bool read_only_root = false;
  bool private_tmp = false;  // a fresh tmpfs on /tmp
  std::string hostname;
  NetMode net = NetMode::kNone;
  std::vector<Address> addresses;  // for kVeth (kernel/net.h routes them)
  std::vector<std::string> argv;   // the command; argv[0] is searched in PATH of env
  std::vector<std::string> env;    // KEY=VALUE; a default PATH is added when absent
  std::string cwd = "/";
  uint32_t uid = 0;  // inside the jail
  uint32_t gid = 0;
  std::vector<uint32_t> groups;  // supplementary groups inside the jail; empty = just gid
  Limits limits;                 // kernel/cgroup.h
  bool cgroup = true;  // a cgroup even without limits (freeze, kill_all, pids); forced by limits
  std::vector<Bind> binds;
  bool userns = true;         // opting out is weaker: jail root is host root, muzzled
  uint32_t host_id_base = 0;  // host uid/gid of jail id 0; 0 = derived from the name
  uint64_t capabilities = default_capabilities();  // bit n = capability n
  InitMode init = InitMode::kGoodcop;
  bool die_with_parent = false;  // SIGKILL the jail when the starting thread dies (CLI)
  int stdio[3] = {0, 1, 2};      // the caller's fds the jail gets as stdin/stdout/stderr
};

// The file name of the small static binary that runs the setup modes (kernel/helper_main.cc),
// installed next to goodcop.
inline constexpr const char* kHelperName = "goodcop-jail-helper";

// The binary that runs the setup modes, exec'd by start() and enter(), and what the jail's
// init runs from. No process in a jail may reach (and rewrite) a host binary through
// /proc/*/exe (runc's CVE-2019-5736), so it is never exec'd from its host path: as root, from
// a read-only detached bind mount of the file (open_tree(OPEN_TREE_CLONE) +
// mount_setattr(MOUNT_ATTR_RDONLY): a write through /proc/1/exe fails with EROFS, and nothing
// is copied); where that is not allowed (not root), from a sealed memfd copy.
class Helper {
 public:
  // How the helper is protected (see above).
  enum class Kind { kReadOnlyMount, kSealedCopy };

  // path: the goodcop binary (tests: GOODCOP_BINARY; goodcop itself: /proc/self/exe) or the
  // helper itself. goodcop-jail-helper next to it is used when it is there (it starts in a
  // fraction of goodcop's time); otherwise path itself, whose main() calls
  // run_internal_mode. A helper file that is not root's (or ours) or that others can write is
  // refused (Error): the jail's init would run it as root.
  explicit Helper(const std::string& path = "/proc/self/exe");
  // What execveat(fd, "", AT_EMPTY_PATH) runs.
  int fd() const { return fd_.get(); }
  Kind kind() const { return kind_; }
  // The file the helper is (for kReadOnlyMount) or was copied from.
  const std::string& source() const { return source_; }

 private:
  UniqueFd fd_;
  Kind kind_ = Kind::kReadOnlyMount;
  std::string source_;
};

// The process-wide Helper for /proc/self/exe, created on first use (thread-safe).
const Helper& self_helper();

// The host id of jail uid/gid 0 for spec (host_id_base, or derived from the name).
uint32_t host_id_base(const JailSpec& spec);

struct JailState;  // cgroup, veth and other owners (jail_state.h)

// What wait() and try_wait() return for an adopted jail: its init is not our child, and the
// kernel tells only the parent how a process ended (a pidfd says only that it did).
inline constexpr int kExitUnknown = -1;

// A running jail; owns it. The destructor kills everything in it, reaps its init and
// removes what start() created (cgroup, veth); mounts die with its mount namespace.
class Jail {
 public:
  Jail(Jail&&) noexcept;
  Jail& operator=(Jail&&) noexcept;
  ~Jail();

  const std::string& name() const;
  // The jail's init (pid 1 inside) as seen from the host, and a pidfd on it.
  pid_t pid() const;
  int pidfd() const;
  // Blocks until init exits; returns its exit code (128+N when killed by signal N), or
  // kExitUnknown for an adopted jail.
  int wait();
  // The exit code once init has exited (kExitUnknown for an adopted jail), without blocking.
  std::optional<int> try_wait();
  // Readable when wait_command() won't block (the pidfd when it is the same as wait()).
  int command_fd() const;
  // Blocks until the jail's command has ended; returns its exit code (128+N when killed by
  // signal N). goodcop's init reports it once it has killed and reaped every other process
  // of the jail, and only then exits: this returns at the report, without waiting for the
  // init's exit (the kernel's teardown of the jail's namespaces, ~3 ms); wait(), try_wait()
  // and the destructor still reap the init. Without a report (InitMode::kJail, an adopted
  // jail, an init killed from outside) the same as wait().
  int wait_command();
  // For a process that exits right after wait_command() (goodcop jail): lets go of the jail
  // without killing or reaping its init, when every process of the jail but the exiting init
  // is gone (the init reported) and the jail owns nothing on the host (no cgroup, no veth:
  // their removal needs the init gone). The destructor then does nothing; the caller's exit
  // leaves the init to be reaped by whoever inherits it. Returns false and changes nothing
  // otherwise (the destructor then kills, reaps and cleans up as always).
  bool release();
  // True when this Jail was taken over by adopt() rather than made by start().
  bool adopted() const;
  // Stops / resumes every process in the jail at once (the cgroup freezer).
  void freeze();
  void thaw();
  // Kills every process in the jail (leaves init as a zombie for wait()).
  void kill_all();
  // Host pids of every process in the jail.
  std::vector<pid_t> pids() const;
  // Sends sig to the jail's init (which forwards TERM/INT/HUP to the command).
  void signal(int sig);
  const JailSpec& spec() const;
  // The jail's cgroup and veth owners, or nullptr when it has none.
  const JailCgroup* cgroup() const;
  const Veth* veth() const;

 private:
  friend Jail start(const JailSpec& spec, const Helper& helper);
  friend std::optional<Jail> adopt(const JailSpec& spec);
  explicit Jail(std::unique_ptr<JailState> s);
  std::unique_ptr<JailState> s_;
};

// Starts a jail; throws Error "jail '<name>': <step> '<path>': <strerror>" on failure.
// A failure with op "execve" and ENOENT means the command is not in the jail.
Jail start(const JailSpec& spec, const Helper& helper = self_helper());

// Takes over the jail spec.name that an earlier process started and that still runs (the
// daemon restarted after a crash; its jails run on: die_with_parent = false). Found through
// its cgroup goodcop/<name> (see kernel/cgroup.h), which must be one goodcop made (root's, right
// below the hierarchy's root) and hold exactly one process that is the init of its own PID
// namespace (NSpid ends in 1), in namespaces of its own as spec says (with the user
// namespace mapping spec's host id range, and, for NetMode::kVeth, the gc-NAME veth whose peer
// is its eth0). The returned Jail owns it exactly as start()'s would (freeze, thaw, kill_all,
// pids, enter, destruction); wait() returns kExitUnknown. Returns nullopt when no such jail
// is alive (a jail without a cgroup can't be found either); start() then removes leftovers.
// Changes nothing on the host; throws (SysError) only when the host's state can't be read.
std::optional<Jail> adopt(const JailSpec& spec);

// How enter() runs its command.
struct EnterOptions {
  uint32_t uid = 0;  // inside the jail
  uint32_t gid = 0;
  std::vector<uint32_t> groups;  // supplementary groups; empty = just gid
  std::string cwd = "/";
  int stdio[3] = {0, 1, 2};
};

// Runs argv inside a running jail (setns into its namespaces and cgroup, like jexec(8))
// with the jail's confinement; blocks and returns the exit code (128+N on signal N).
int enter(const Jail& jail, const std::vector<std::string>& argv, const EnterOptions& opts = {},
          const Helper& helper = self_helper());

// The hidden first argument that selects the internal setup modes of the goodcop binary.
inline constexpr const char* kSetupArg = "__jail-setup";
inline constexpr const char* kEnterArg = "__jail-enter";

// Call first in main(): when argv[1] is an internal mode, runs it and returns its exit
// code; otherwise returns nullopt and main carries on.
std::optional<int> run_internal_mode(int argc, char** argv);

}  // namespace goodcop::kernel
