// The starter's side of a jail: validates the spec, runs the setup mode, reads its
// reports, and owns the running jail.
#include "kernel/jail.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <functional>
#include <string_view>

#include "base/error.h"
#include "base/scope_exit.h"
#include "kernel/jail_state.h"
#include "kernel/net.h"
#include "kernel/proc.h"
#include "kernel/wire.h"

extern char** environ;

namespace goodcop::kernel {

namespace {

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int pidfd_send_signal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

int exit_code(const siginfo_t& si) {
  return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
}

// Moves fd to 3 or above, so the child's dup2 onto 0..2 cannot clobber it.
UniqueFd above_stdio(UniqueFd fd) {
  if (fd.get() > 2) return fd;
  return UniqueFd(check(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3), "fcntl", "F_DUPFD_CLOEXEC"));
}

UniqueFd spec_memfd(const JailSpec& spec) {
  UniqueFd fd(check(::memfd_create("goodcop-spec", MFD_CLOEXEC), "memfd_create", "spec"));
  write_all(fd.get(), encode_spec(spec), "spec");
  check(::lseek(fd.get(), 0, SEEK_SET), "lseek", "spec");
  return above_stdio(std::move(fd));
}

// What the spawned child needs; everything is prepared by the parent.
struct SpawnArgs {
  const Helper* helper;
  const char* const* argv;
  int fds[3];
  const int* stdio;
  const CgroupJoinFds* cgroup;
};

// The child of spawn_helper, up to the exec. It runs on its own stack but in the parent's
// memory (CLONE_VM), with the parent's TLS: only system calls, no allocation, nothing that
// writes to memory the parent uses (errno aside: that is the parent thread's, and the parent
// thread is suspended until the exec). Not instrumented by ASan: its noreturn _exit on a stack
// ASan doesn't know would be reported as a bogus stack switch.
__attribute__((no_sanitize("address"))) int spawn_child(void* p) {
  const SpawnArgs& a = *static_cast<const SpawnArgs*>(p);
  // The daemon's signal handlers, ignored signals and mask would survive exec into the
  // jail. Every signal is blocked (by the parent) until the handlers are default again: a
  // handler of the parent must never run here, on the parent's memory.
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // Into the jail's cgroups before anything else: the setup process's clone of the init
  // inherits them, so no process of the jail ever runs outside its limits, and the init's
  // cgroup namespace is rooted at the jail's own cgroup.
  if (a.cgroup != nullptr) {
    int err = join_self(*a.cgroup);
    if (err != 0) {
      report_failure(a.fds[1], "join cgroup", "", err);
      ::_exit(126);
    }
  }
  for (int i = 0; i < 3; ++i) {
    if (a.stdio[i] != i && ::dup2(a.stdio[i], i) < 0) ::_exit(126);
    ::fcntl(i, F_SETFD, 0);
  }
  // Whatever else the daemon has open (a library's fd without O_CLOEXEC) stays behind.
  ::syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
  for (int fd : a.fds) ::fcntl(fd, F_SETFD, 0);
  ::syscall(SYS_execveat, a.helper->fd(), "", a.argv, environ, AT_EMPTY_PATH);
  report_failure(a.fds[1], "execveat", "goodcop helper", errno);
  ::_exit(126);
}

// Spawns the helper into an internal mode with three fds, like posix_spawn(3): a child that
// shares our memory (CLONE_VM) and runs until it has exec'd (CLONE_VFORK), so the kernel
// copies no page tables and neither side pays copy-on-write faults afterwards (a fork of
// goodcop cost more CPU than the whole jail recipe). The daemon is multi-threaded: the child
// uses only async-signal-safe calls; everything it needs is prepared here.
pid_t spawn_helper(const Helper& helper, const char* mode, int a, int b, int c, const int stdio[3],
                   const CgroupJoinFds* cgroup) {
  std::string sa = std::to_string(a), sb = std::to_string(b), sc = std::to_string(c);
  const char* argv[] = {"goodcop", mode, sa.c_str(), sb.c_str(), sc.c_str(), nullptr};
  SpawnArgs args{&helper, argv, {a, b, c}, stdio, cgroup};
  constexpr size_t kStack = 256 * 1024;  // ASan builds' frames are large
  void* stack = ::mmap(nullptr, kStack, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) check(-1, "mmap", "helper stack");
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::clone(spawn_child, static_cast<char*>(stack) + kStack,
                      CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
  const int err = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::munmap(stack, kStack);
  if (pid < 0) throw SysError("clone", "goodcop helper", err);
  return pid;
}

// Reads report records until every writer is gone. Returns the first failure, if any.
std::optional<Report> read_reports(int fd, const std::function<void(pid_t)>& on_pid) {
  std::optional<Report> failure;
  for (;;) {
    Report r;
    size_t got = 0;
    while (got < sizeof r) {
      ssize_t n = ::read(fd, reinterpret_cast<char*>(&r) + got, sizeof r - got);
      if (n < 0 && errno == EINTR) continue;
      check(n, "read", "report pipe");
      if (n == 0) return failure;
      got += static_cast<size_t>(n);
    }
    r.op[sizeof r.op - 1] = '\0';
    r.path[sizeof r.path - 1] = '\0';
    if (r.kind == Report::kPid && on_pid) on_pid(r.pid);
    if (r.kind == Report::kFailure && !failure) failure = r;
  }
}

[[noreturn]] void throw_report(const std::string& name, const Report& r) {
  if (r.err == 0) throw Error("jail '" + name + "': " + r.path);
  throw SysError("jail '" + name + "': " + r.op, r.path, r.err);
}

void reap(pid_t pid) {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
}

bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 32) return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.'))
      return false;
  return true;
}

void validate(const JailSpec& s) {
  const std::string who = "jail '" + s.name + "': ";
  if (!valid_name(s.name)) throw Error("jail '" + s.name + "': invalid name");
  if (s.root.empty() || s.root[0] != '/')
    throw Error(who + "root '" + s.root + "' is not absolute");
  if (s.argv.empty() || s.argv[0].empty()) throw Error(who + "no command");
  if (s.hostname.size() > HOST_NAME_MAX)
    throw Error(who + "hostname '" + s.hostname + "' is too long");
  if (s.cwd.empty() || s.cwd[0] != '/')
    throw Error(who + "working directory '" + s.cwd + "' is not absolute");
  if (s.binds.size() > 64) throw Error(who + "more than 64 binds");
  // NGROUPS_MAX of the kernel (setgroups(2) fails with EINVAL above it).
  if (s.groups.size() > 65536) throw Error(who + "more than 65536 supplementary groups");
  for (const Bind& b : s.binds) {
    if (b.source.empty() || b.source[0] != '/' || b.target.empty() || b.target[0] != '/' ||
        b.target.find("/../") != std::string::npos || b.target.ends_with("/.."))
      throw Error(who + "bind '" + b.source + ":" + b.target +
                  "' needs absolute paths without '..'");
  }
  if (s.net == NetMode::kVeth && s.addresses.empty())
    throw Error(who + "network 'veth' without addresses");
  for (size_t i = 0; i < s.addresses.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (s.addresses[i].ip() == s.addresses[j].ip())
        throw Error(who + "duplicate IP address '" + s.addresses[i].ip() + "'");
}

// An adopted init is not our child: waitid() would fail with ECHILD. Its pidfd still becomes
// readable when it exits (pidfd_open(2)); how it ended only its parent learns.
bool adopted_exited(int pidfd, int timeout_ms) {
  pollfd p{pidfd, POLLIN, 0};
  int n;
  while ((n = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
  }
  check(n, "poll", "pidfd");
  return n > 0;
}

// goodcop-jail-helper in the directory of `path` (resolved when it is /proc/self/exe), or ""
// when there is none.
std::string helper_next_to(const std::string& path) {
  std::string real = path;
  if (path.rfind("/proc/", 0) == 0) {
    char buf[PATH_MAX];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
    if (n <= 0) return "";
    real.assign(buf, static_cast<size_t>(n));
  }
  const size_t slash = real.rfind('/');
  if (slash == std::string::npos) return "";
  std::string candidate = real.substr(0, slash + 1) + kHelperName;
  struct stat st {};
  if (::stat(candidate.c_str(), &st) != 0) return "";
  return candidate;
}

}  // namespace

namespace {

// A detached bind mount of the helper file alone, read-only: the init of every jail runs from
// it, and a write through /proc/<pid>/exe (or a reopen of it) fails with EROFS at
// mnt_want_write, before the file is reached. nosuid/nodev: nothing on it needs them; noexec
// cleared: the clone keeps the source mount's flags, and the helper must run. Not in any
// mount namespace, so no jail (nor the host) can reach it by path, and a jail could not
// remount it anyway (no CAP_SYS_ADMIN over it; mount_setattr is in the seccomp filter).
// Invalid when this process may not make mounts (not root): the caller then copies.
UniqueFd read_only_mount(int file) {
  UniqueFd tree(::open_tree(file, "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  if (!tree) return tree;
  struct mount_attr attr {};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  attr.attr_clr = MOUNT_ATTR_NOEXEC;
  if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) return UniqueFd();
  return tree;
}

// A sealed memfd copy (F_SEAL_WRITE|SHRINK|GROW|SEAL): nobody, not even root in a jail
// through /proc/1/exe, can change these bytes.
UniqueFd sealed_copy(int file, const std::string& source) {
  // Reopened for reading through /proc: the same inode as the O_PATH fd.
  const std::string self = "/proc/self/fd/" + std::to_string(file);
  UniqueFd src(check(::open(self.c_str(), O_RDONLY | O_CLOEXEC), "open", source));
  struct stat st = fstat_fd(src.get(), source);
  UniqueFd mem(check(::memfd_create("goodcop", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC),
                     "memfd_create", source));
  off_t off = 0;
  while (off < st.st_size) {
    ssize_t n = ::sendfile(mem.get(), src.get(), &off, static_cast<size_t>(st.st_size - off));
    if (n < 0 && errno == EINTR) continue;
    check(n, "sendfile", source);
    if (n == 0) break;
  }
  check(::fchmod(mem.get(), 0555), "fchmod", "memfd");
  check(::fcntl(mem.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE),
        "fcntl F_ADD_SEALS", "memfd");
  return mem;
}

}  // namespace

Helper::Helper(const std::string& path) {
  source_ = helper_next_to(path);
  const bool found = !source_.empty();
  if (!found) source_ = path;
  // O_PATH pins the file checked below: the mount (or copy) is of this very inode.
  UniqueFd file = open_fd(source_, O_PATH);
  struct stat st = fstat_fd(file.get(), source_);
  // Run as root by every jail start: a file someone else can change is someone else's root.
  if (found && (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != ::geteuid()) ||
                (st.st_mode & (S_IWGRP | S_IWOTH)) != 0))
    throw Error("jail helper '" + source_ +
                "': not a regular file owned by root and writable "
                "only by its owner");
  UniqueFd fd = read_only_mount(file.get());
  kind_ = Kind::kReadOnlyMount;
  if (!fd) {
    fd = sealed_copy(file.get(), source_);
    kind_ = Kind::kSealedCopy;
  }
  fd_ = above_stdio(std::move(fd));
}

const Helper& self_helper() {
  // Made once per process; a function-local static is thread-safe to create.
  static const Helper helper("/proc/self/exe");
  return helper;
}

Jail start(const JailSpec& spec, const Helper& helper) {
  validate(spec);
  auto state = std::make_unique<JailState>();
  state->spec = spec;
  // Leftovers of a crashed previous run of this jail (the names are goodcop's own).
  const bool want_cgroup =
      spec.cgroup || spec.limits.memory_bytes || spec.limits.pids || spec.limits.cpu_millis;
  std::optional<CgroupJoinFds> join;
  try {
    if (spec.net == NetMode::kVeth) Veth::clean_stale(spec.name);
    if (want_cgroup) {
      CgroupLayout layout = CgroupLayout::detect();
      JailCgroup::clean_stale(spec.name, layout);
      state->cgroup = JailCgroup::create(spec.name, spec.limits, layout);
      join = state->cgroup->join_fds();
    }
  } catch (...) {
    rethrow_with_context("jail '" + spec.name + "'");
  }
  UniqueFd spec_fd = spec_memfd(spec);
  int rep[2];
  check(::pipe2(rep, O_CLOEXEC), "pipe2", "report");
  UniqueFd rep_r(rep[0]), rep_w(rep[1]);
  rep_w = above_stdio(std::move(rep_w));
  // A socket, not a pipe: sending to an init that died must be EPIPE, not SIGPIPE.
  int go[2];
  check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go), "socketpair", "go");
  UniqueFd go_ours(go[0]), go_theirs(go[1]);
  go_theirs = above_stdio(std::move(go_theirs));

  pid_t setup = spawn_helper(helper, kSetupArg, spec_fd.get(), rep_w.get(), go_theirs.get(),
                             spec.stdio, join ? &*join : nullptr);
  spec_fd.reset();
  rep_w.reset();
  go_theirs.reset();
  join.reset();
  // The init waits for "g" before it confines itself and runs the command: with a veth,
  // only once its addresses are configured.
  const bool need_pid_for_go = spec.net == NetMode::kVeth;
  if (!need_pid_for_go) (void)::send(go_ours.get(), "g", 1, MSG_NOSIGNAL);

  std::optional<Report> failure;
  try {
    failure = read_reports(rep_r.get(), [&](pid_t pid) {
      state->pid = pid;
      state->pidfd = UniqueFd(check(pidfd_open(pid), "pidfd_open", std::to_string(pid)));
      if (!need_pid_for_go) return;
      state->veth = Veth::create(spec.name, open_netns(pid).get(), NetSpec{spec.addresses});
      (void)::send(go_ours.get(), "g", 1, MSG_NOSIGNAL);
    });
  } catch (...) {
    if (state->pidfd) pidfd_send_signal(state->pidfd.get(), SIGKILL);
    reap(setup);
    if (state->pid > 0) reap(state->pid);
    rethrow_with_context("jail '" + spec.name + "'");
  }
  reap(setup);
  if (!failure && !state->pidfd) failure = Report{Report::kFailure, 0, 0, {}, "setup process died"};
  if (failure) {
    if (state->pidfd) {
      pidfd_send_signal(state->pidfd.get(), SIGKILL);
      reap(state->pid);
    }
    throw_report(spec.name, *failure);
  }
  // goodcop's init reports the command's status on the go socket before it exits.
  if (spec.init == InitMode::kGoodcop) state->status_sock = std::move(go_ours);
  return Jail(std::move(state));
}

Jail::Jail(std::unique_ptr<JailState> s) : s_(std::move(s)) {}
Jail::Jail(Jail&&) noexcept = default;
Jail& Jail::operator=(Jail&& o) noexcept {
  if (this != &o) {
    Jail old(std::move(*this));
    s_ = std::move(o.s_);
  }
  return *this;
}

Jail::~Jail() {
  if (!s_ || s_->released) return;
  try {
    if (!s_->status) {
      kill_all();
      wait();
    }
  } catch (...) {
  }
  // The jail end of the veth went with the network namespace; the host end and the
  // cgroup are ours to remove. Mounts died with the mount namespace.
  try {
    if (s_->veth) s_->veth->destroy();
  } catch (...) {
  }
  try {
    if (s_->cgroup) s_->cgroup->destroy();
  } catch (...) {
  }
}

const std::string& Jail::name() const { return s_->spec.name; }
pid_t Jail::pid() const { return s_->pid; }
int Jail::pidfd() const { return s_->pidfd.get(); }
const JailSpec& Jail::spec() const { return s_->spec; }

bool Jail::adopted() const { return s_->adopted; }

int Jail::wait() {
  if (s_->status) return *s_->status;
  if (s_->adopted) {
    adopted_exited(s_->pidfd.get(), -1);
    s_->status = kExitUnknown;
    return *s_->status;
  }
  siginfo_t si{};
  while (::waitid(P_PIDFD, static_cast<id_t>(s_->pidfd.get()), &si, WEXITED) < 0) {
    // EAGAIN: the pidfd's file description became non-blocking (an event loop watching a
    // dup of it, as the daemon does, sets O_NONBLOCK on the shared description); wait for
    // it to become readable (the process exited), then reap.
    if (errno == EAGAIN) {
      pollfd p{s_->pidfd.get(), POLLIN, 0};
      ::poll(&p, 1, -1);
      continue;
    }
    if (errno != EINTR) check(-1, "waitid", "jail '" + s_->spec.name + "'");
  }
  s_->status = exit_code(si);
  return *s_->status;
}

int Jail::command_fd() const { return s_->status_sock ? s_->status_sock.get() : s_->pidfd.get(); }

int Jail::wait_command() {
  if (s_->command_status) return *s_->command_status;
  if (s_->status || !s_->status_sock) return wait();
  std::optional<int> code = read_status(s_->status_sock.get());
  s_->status_sock.reset();
  if (!code) return wait();  // the init ended without a report: its status is the truth
  s_->command_status = code;
  return *code;
}

bool Jail::release() {
  if (!s_->command_status || s_->cgroup || s_->veth) return false;
  s_->released = true;
  return true;
}

std::optional<int> Jail::try_wait() {
  if (s_->status) return s_->status;
  if (s_->adopted) {
    if (!adopted_exited(s_->pidfd.get(), 0)) return std::nullopt;
    s_->status = kExitUnknown;
    return s_->status;
  }
  siginfo_t si{};
  if (::waitid(P_PIDFD, static_cast<id_t>(s_->pidfd.get()), &si, WEXITED | WNOHANG) < 0) {
    // A non-blocking pidfd (see wait()) says EAGAIN where a blocking one says "not yet".
    if (errno == EAGAIN) return std::nullopt;
    check(-1, "waitid", "jail '" + s_->spec.name + "'");
  }
  if (si.si_pid == 0) return std::nullopt;
  s_->status = exit_code(si);
  return s_->status;
}

void Jail::signal(int sig) {
  if (s_->status) return;
  check(pidfd_send_signal(s_->pidfd.get(), sig), "pidfd_send_signal",
        "jail '" + s_->spec.name + "'");
}

void Jail::kill_all() {
  if (s_->status) return;
  if (s_->cgroup) s_->cgroup->kill_all();
  // SIGKILL to the pid namespace's init makes the kernel kill every other process in the
  // namespace (pid_namespaces(7)); it is all there is without a cgroup.
  if (pidfd_send_signal(s_->pidfd.get(), SIGKILL) < 0 && errno != ESRCH)
    check(-1, "pidfd_send_signal", "jail '" + s_->spec.name + "'");
}

void Jail::freeze() {
  if (!s_->cgroup) throw Error("jail '" + s_->spec.name + "': freeze: the jail has no cgroup");
  s_->cgroup->freeze();
}

void Jail::thaw() {
  if (!s_->cgroup) throw Error("jail '" + s_->spec.name + "': thaw: the jail has no cgroup");
  s_->cgroup->thaw();
}

const JailCgroup* Jail::cgroup() const { return s_->cgroup ? &*s_->cgroup : nullptr; }
const Veth* Jail::veth() const { return s_->veth ? &*s_->veth : nullptr; }

std::vector<pid_t> Jail::pids() const {
  if (s_->status) return {};
  if (s_->cgroup) return s_->cgroup->pids();
  return pids_in_pid_namespace_of(s_->pid);
}

int enter(const Jail& jail, const std::vector<std::string>& argv, const EnterOptions& opts,
          const Helper& helper) {
  JailSpec spec = jail.spec();
  spec.argv = argv;
  spec.uid = opts.uid;
  spec.gid = opts.gid;
  spec.groups = opts.groups;
  spec.cwd = opts.cwd;
  for (int i = 0; i < 3; ++i) spec.stdio[i] = opts.stdio[i];
  if (argv.empty() || argv[0].empty()) throw Error("jail '" + spec.name + "': enter: no command");
  UniqueFd spec_fd = spec_memfd(spec);
  int rep[2];
  check(::pipe2(rep, O_CLOEXEC), "pipe2", "report");
  UniqueFd rep_r(rep[0]), rep_w(above_stdio(UniqueFd(rep[1])));
  UniqueFd pidfd(check(::fcntl(jail.pidfd(), F_DUPFD_CLOEXEC, 3), "fcntl", "pidfd"));
  std::optional<CgroupJoinFds> join;
  if (jail.cgroup() != nullptr) join = jail.cgroup()->join_fds();
  pid_t helper_pid = spawn_helper(helper, kEnterArg, spec_fd.get(), rep_w.get(), pidfd.get(),
                                  spec.stdio, join ? &*join : nullptr);
  spec_fd.reset();
  rep_w.reset();
  pidfd.reset();
  join.reset();
  std::optional<Report> failure;
  try {
    failure = read_reports(rep_r.get(), {});
  } catch (...) {
    reap(helper_pid);
    throw;
  }
  int st = 0;
  while (::waitpid(helper_pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (failure) throw_report(spec.name, *failure);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

}  // namespace goodcop::kernel
