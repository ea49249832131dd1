// adopt(): taking over a jail that an earlier process started and that still runs (the
// daemon was SIGKILLed and restarted; its jails were started with die_with_parent = false).
//
// Nothing is believed because of a name. The jail is found through its cgroup goodcop/<name>,
// which only root can make below a hierarchy's root, and its init must look exactly like one
// start() makes: pid 1 of a PID namespace that is a child of ours, in every cgroup directory
// of the jail, in mount, UTS, IPC and cgroup namespaces of its own (network and user
// namespaces as the spec says), with the spec's host id range as its uid/gid map, and with
// the jail's veth pair ending in its network namespace. A process that merely sits in the
// cgroup (or an init of some other making) is not adopted; start() then cleans up, as always.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <sstream>

#include "base/error.h"
#include "base/fd.h"
#include "base/log.h"
#include "base/parse.h"
#include "base/scope_exit.h"
#include "kernel/cg_util.h"
#include "kernel/jail.h"
#include "kernel/jail_state.h"
#include "kernel/userns.h"

namespace goodcop::kernel {
namespace {

std::vector<std::string> words_of(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// A small file below a /proc/PID directory fd. The fd pins the process: once it is gone,
// reads fail (ESRCH) instead of reading a recycled pid's files.
std::optional<std::string> read_at(int dirfd, const char* name) {
  int fd = ::openat(dirfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  UniqueFd owner(fd);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (1u << 20)) return std::nullopt;
  }
}

// The fields of the "NSpid:" line of a status file: the pid in each PID namespace the process
// is in, outermost first (proc(5)).
std::vector<std::string> nspid(const std::string& status) {
  std::istringstream in(status);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("NSpid:", 0) == 0) return words_of(line.substr(6));
  return {};
}

struct NsId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const NsId&) const = default;
};

std::optional<NsId> ns_at(int dirfd, const std::string& ns) {
  struct stat st {};
  if (::fstatat(dirfd, ("ns/" + ns).c_str(), &st, 0) != 0) return std::nullopt;
  return NsId{st.st_dev, st.st_ino};
}

// Why `pid` is not the init of the jail spec describes, or "" when it is.
std::string mismatch(const JailSpec& spec, const JailCgroup& cg, pid_t pid, int self, int proc) {
  // A child of our own PID namespace, and pid 1 there.
  auto ours = nspid(read_at(self, "status").value_or(""));
  auto theirs = nspid(read_at(proc, "status").value_or(""));
  if (ours.empty() || theirs.size() != ours.size() + 1 || theirs.back() != "1")
    return "not the init of a PID namespace below ours";
  // In the jail's own cgroup directories (not a sub-cgroup someone made below them).
  const std::string p = std::to_string(pid);
  for (const std::string& dir : cg.dirs()) {
    auto procs = words_of(cg::read_trimmed(dir + "/cgroup.procs"));
    if (std::find(procs.begin(), procs.end(), p) == procs.end()) return "not in '" + dir + "'";
  }
  // Namespaces of its own, as start() makes them (kernel/setup.cc namespace_flags).
  for (const char* ns : {"mnt", "uts", "ipc", "cgroup", "net", "user"}) {
    auto a = ns_at(self, ns), b = ns_at(proc, ns);
    if (!a || !b) return std::string("no ") + ns + " namespace";
    bool want_own = true;
    if (std::string(ns) == "net") want_own = spec.net != NetMode::kHost;
    if (std::string(ns) == "user") want_own = spec.userns;
    if ((*a == *b) == want_own)
      return std::string(want_own ? "shares our " : "has its own ") + ns + " namespace";
  }
  // Only root in the initial user namespace writes a map onto goodcop's host id range.
  if (spec.userns) {
    const std::vector<std::string> want = {"0", std::to_string(host_id_base(spec)),
                                           std::to_string(kJailIdCount)};
    for (const char* map : {"uid_map", "gid_map"})
      if (words_of(read_at(proc, map).value_or("")) != want)
        return std::string(map) + " is not the jail's";
  }
  return "";
}

}  // namespace

std::optional<Jail> adopt(const JailSpec& spec) {
  const std::string who = "jail '" + spec.name + "'";
  try {
    std::optional<JailCgroup> cg = JailCgroup::open_existing(spec.name);
    if (!cg) return std::nullopt;
    // Until the Jail owns it, a failed check must leave the cgroup as found.
    ScopeExit keep([&] {
      if (cg) cg->release();
    });
    UniqueFd self = open_fd("/proc/self", O_PATH | O_DIRECTORY);
    auto state = std::make_unique<JailState>();
    std::vector<std::string> refused;
    for (pid_t pid : cg->pids()) {
      // pidfd first, then /proc/PID: if the pid was recycled in between, the pidfd's process
      // is dead and the liveness check at the end fails.
      int pfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
      if (pfd < 0) continue;  // exited meanwhile
      UniqueFd pidfd(pfd);
      int d = ::open(("/proc/" + std::to_string(pid)).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (d < 0) continue;
      UniqueFd proc(d);
      // Only an init is a candidate; the jail's other processes are not worth a word.
      auto ns_pids = nspid(read_at(proc.get(), "status").value_or(""));
      if (ns_pids.empty() || ns_pids.back() != "1") continue;
      std::string why = mismatch(spec, *cg, pid, self.get(), proc.get());
      if (::syscall(SYS_pidfd_send_signal, pidfd.get(), 0, nullptr, 0) != 0) continue;
      if (!why.empty()) {
        refused.push_back("pid " + std::to_string(pid) + ": " + why);
        continue;
      }
      if (state->pidfd) {
        log_debug("{}: adopt: more than one init in its cgroup", who);
        return std::nullopt;
      }
      state->pid = pid;
      state->pidfd = std::move(pidfd);
    }
    for (const std::string& r : refused) log_debug("{}: adopt: refused {}", who, r);
    if (!state->pidfd) return std::nullopt;
    if (spec.net == NetMode::kVeth) {
      state->veth = Veth::open_existing(spec.name, open_netns(state->pid).get());
      if (!state->veth) {
        log_debug("{}: adopt: its veth is gone", who);
        return std::nullopt;
      }
    }
    state->spec = spec;
    state->adopted = true;
    state->cgroup = std::move(cg);
    keep.dismiss();
    return Jail(std::move(state));
  } catch (...) {
    rethrow_with_context(who + ": adopt");
  }
}

}  // namespace goodcop::kernel
