// The setup mode: the single-threaded side of start() and enter(), run by fork + exec of
// goodcop itself (`goodcop __jail-setup SPEC REPORT GO`), from a sealed memfd copy.
//
//   setup process (S, initial namespaces, root)    init (I, pid 1 of the jail)
//   clone(CLONE_PARENT|CLONE_NEW*) ───────────────▶ waits for S
//   report I's pid to the starter
//   write I's uid/gid maps
//   clone the jail's trees (idmapped) ──fds──────▶ hostname, private mounts, root tree,
//   exit                                           /proc, /dev, /tmp, binds, console,
//                                                  pivot_root, lo up
//                                     starter ──go─▶ (veth, cgroup done)
//                                                  bounding set, no_new_privs, seccomp
//                                                  fork command (C) ─▶ user, cwd, fds, exec
//                                                  drop all capabilities, init loop
//
// Every failure is reported as {step, path, errno} on the report pipe; the starter turns
// it into "jail 'x': pivot_root '/srv/j': Invalid argument".
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "base/parse.h"
#include "base/scope_exit.h"
#include "base/unix_fds.h"
#include "kernel/caps.h"
#include "kernel/init.h"
#include "kernel/jail.h"
#include "kernel/loopback.h"
#include "kernel/mount.h"
#include "kernel/seccomp.h"
#include "kernel/userns.h"
#include "kernel/wire.h"

namespace goodcop::kernel {
namespace {

// Where the init assembles the jail's root inside its own (private) mount namespace.
// Mounting over it hides nothing from the host; host paths are all resolved by the setup
// process before this point, so a jail tree below /tmp is fine.
constexpr const char* kStage = "/tmp";
constexpr int kMaxTrees = 65;  // the root and up to 64 binds (decode_spec enforces it)

void report_exception(int report) noexcept {
  try {
    throw;
  } catch (const SysError& e) {
    report_failure(report, e.op().c_str(), e.path().c_str(), e.code());
  } catch (const std::exception& e) {
    report_failure(report, "", e.what(), 0);
  } catch (...) {
    report_failure(report, "", "unknown error", 0);
  }
}

int namespace_flags(const JailSpec& spec) {
  int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP;
  if (spec.userns) flags |= CLONE_NEWUSER;
  if (spec.net != NetMode::kHost) flags |= CLONE_NEWNET;
  return flags;
}

// The trees' fds travel from the outside process to the init over `sock` (base/unix_fds.h).
void send_fds(int sock, const std::vector<UniqueFd>& fds) {
  std::vector<int> raw;
  for (const UniqueFd& f : fds) raw.push_back(f.get());
  char byte = 'm';
  check(send_with_fds(sock, std::span<const char>(&byte, 1), raw), "sendmsg", "setup socket");
}

std::vector<UniqueFd> recv_fds(int sock) {
  char byte = 0;
  Received r;
  do {
    r = recv_with_fds(sock, std::span<char>(&byte, 1), kMaxTrees);
  } while (r.n < 0 && errno == EINTR);
  check(r.n, "recvmsg", "setup socket");
  if (r.n == 0 || r.truncated) throw Error("setup process went away");
  return std::move(r.fds);
}

// Blocks until the starter has set up what needs the init's pid (veth, cgroup).
void wait_for_go(int go) {
  char byte = 0;
  ssize_t n;
  do {
    n = ::read(go, &byte, 1);
  } while (n < 0 && errno == EINTR);
  check(n, "read", "go socket");
  if (n == 0 || byte != 'g') throw Error("the starting process went away");
}

// Root muzzled, in this order: the bounding set (needs CAP_SETPCAP, gone after it),
// no_new_privs (setuid binaries and file capabilities no longer raise privilege), then
// the seccomp filter (which no_new_privs allows an unprivileged process to install).
void confine(const JailSpec& spec) {
  drop_bounding_set(spec.capabilities);
  check(::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl", "PR_SET_NO_NEW_PRIVS");
  load_seccomp_filter();
}

// execvpe with the jail's own PATH (glibc's would search the setup process's PATH).
[[noreturn]] void exec_in_jail(const JailSpec& spec, int report) {
  std::vector<std::string> env = spec.env;
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  bool has_path = false;
  for (const auto& e : env)
    if (e.rfind("PATH=", 0) == 0) {
      path = e.substr(5);
      has_path = true;
    }
  if (!has_path) env.push_back("PATH=" + path);
  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  // Every inherited fd but 0-2 is closed at exec: a directory fd leading to the host's /
  // would be a way out (the classic chroot escape through an open fd).
  ::syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
  const std::string& cmd = spec.argv[0];
  int err = ENOENT;
  if (cmd.find('/') != std::string::npos) {
    ::execve(cmd.c_str(), argv.data(), envp.data());
    err = errno;
  } else {
    size_t start = 0;
    while (start <= path.size()) {
      size_t end = path.find(':', start);
      if (end == std::string::npos) end = path.size();
      std::string dir = path.substr(start, end - start);
      std::string full = (dir.empty() ? "." : dir) + "/" + cmd;
      ::execve(full.c_str(), argv.data(), envp.data());
      if (errno == EACCES)
        err = EACCES;
      else if (errno != ENOENT && errno != ENOTDIR)
        err = errno;
      start = end + 1;
    }
  }
  report_failure(report, "execve", cmd.c_str(), err);
  ::_exit(127);
}

// The command's process (pid 2): its user, its session, its directory, then exec.
[[noreturn]] void run_command(const JailSpec& spec, int report) {
  try {
    restore_child_signals();
    // A new session: no controlling terminal shared with the host's shell.
    ::setsid();
    become_user(spec.uid, spec.gid, spec.groups);
    check(::chdir(spec.cwd.c_str()), "chdir", spec.cwd);
  } catch (...) {
    report_exception(report);
    ::_exit(127);
  }
  exec_in_jail(spec, report);
}

// pid 1 of the jail. Returns its exit code.
int init_main(const JailSpec& spec, int report, int go, int sock) {
  Console console;
  try {
    std::vector<UniqueFd> trees = recv_fds(sock);
    ::close(sock);
    if (trees.size() != 1 + spec.binds.size()) throw Error("setup: wrong number of trees");
    if (spec.userns) become_jail_root();
    if (spec.die_with_parent)  // after the credential change, which clears it
      check(::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), "prctl", "PR_SET_PDEATHSIG");
    check(::sethostname(spec.hostname.data(), spec.hostname.size()), "sethostname", spec.hostname);
    make_mounts_private();
    const std::string root = kStage;
    attach_tree(trees[0].get(), root);
    mount_proc(root);
    mount_dev(root);
    if (spec.private_tmp) mount_tmpfs(root + "/tmp");
    for (size_t i = 0; i < spec.binds.size(); ++i)
      attach_tree(trees[i + 1].get(), root + spec.binds[i].target);
    trees.clear();
    if (spec.init == InitMode::kGoodcop) console = make_console(root);
    pivot_into(root);
    if (spec.net != NetMode::kHost) bring_loopback_up();
    wait_for_go(go);
    // goodcop's init keeps the go socket: its last word goes back on it (below).
    if (spec.init == InitMode::kJail) ::close(go);
    confine(spec);
    if (spec.init == InitMode::kJail) {
      become_user(spec.uid, spec.gid, spec.groups);
      check(::chdir(spec.cwd.c_str()), "chdir", spec.cwd);
      exec_in_jail(spec, report);
    }
    prepare_init_signals();
  } catch (const SysError& e) {
    // Name host paths, not the staging mount point: "mount '/srv/j/proc'", not "/tmp/proc".
    std::string path = e.path();
    const size_t n = std::strlen(kStage);
    if (path.rfind(kStage, 0) == 0 && (path.size() == n || path[n] == '/'))
      path = (spec.root == "/" ? "" : spec.root) + path.substr(n);
    if (path.empty()) path = "/";
    report_failure(report, e.op().c_str(), path.c_str(), e.code());
    return 126;
  } catch (...) {
    report_exception(report);
    return 126;
  }
  pid_t child = ::fork();
  if (child < 0) {
    report_failure(report, "fork", "", errno);
    return 126;
  }
  if (child == 0) {
    console = Console{};
    run_command(spec, report);
  }
  ::close(report);
  int code = 126;
  try {
    // The command has the capabilities it needs; init itself keeps only CAP_KILL, for
    // kill_and_reap_all (the command may run as another uid), which reaches nothing outside
    // the jail's PID namespace.
    drop_all_capabilities(uint64_t{1} << CAP_KILL);
    code = run_init(child, console.master.get());
  } catch (...) {
    return 126;
  }
  // The command is gone. End the jail's other processes ourselves, then tell the starter:
  // the jail then holds no process but this one, and what is left (our exit: the kernel's
  // teardown of the jail's mount, network and other namespaces, ~3 ms) needs no waiting
  // for by a starter that owns nothing on the host (goodcop jail, kernel/jail.h
  // wait_command). The kernel would kill the rest when we exit (pid_namespaces(7)), but
  // only as part of that exit.
  kill_and_reap_all();
  // Our stdio is the caller's: a pipe's reader waits for every writer, and the files of an
  // exiting process are released only after its namespaces are torn down (task work).
  for (int fd = 0; fd <= 2; ++fd) ::close(fd);
  report_status(go, code);
  // The console's pty only after the report: its release queues the tty's hangup work, and
  // the kworker that runs it preempted us before the report (~0.25 ms of the starter's
  // wait under perf trace on a quiet machine, milliseconds under load).
  console = Console{};
  return code;
}

// The setup process: creates the init in its namespaces and hands it its trees.
int setup_main(int spec_fd, int report, int go) {
  pid_t init = -1;
  try {
    const JailSpec spec = decode_spec(read_all(spec_fd, 16u << 20));
    ::close(spec_fd);
    int sv[2];
    check(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), "socketpair");
    UniqueFd ours(sv[0]), theirs(sv[1]);
    // CLONE_PARENT: the init is the starter's child, so the starter can reap it and wait
    // on its pidfd; this process is gone as soon as the trees are handed over. A raw
    // clone without a new stack behaves like fork(2) (this process has one thread).
    init = static_cast<pid_t>(
        ::syscall(SYS_clone, static_cast<unsigned long>(namespace_flags(spec) | CLONE_PARENT),
                  nullptr, nullptr, nullptr, nullptr));
    check(init, "clone", spec.root);
    if (init == 0) {
      ours.reset();
      ::_exit(init_main(spec, report, go, theirs.release()));
    }
    theirs.reset();
    ::close(go);
    report_pid(report, init);
    UniqueFd userns;
    if (spec.userns) {
      write_id_maps(init, spec.host_id_base);
      userns = open_fd("/proc/" + std::to_string(init) + "/ns/user", O_RDONLY);
    }
    std::vector<UniqueFd> trees;
    // overlayfs cannot be idmapped (it lacks FS_ALLOW_IDMAP: mount_setattr fails with
    // EINVAL). An overlay root is mounted by its owner over idmapped layers instead (the
    // daemon's overlay storage, watchdog/driver/), so it already shows the jail's root its
    // files as its own; the root is then cloned without a second mapping.
    struct statfs sfs {};
    bool overlay_root =
        ::statfs(spec.root.c_str(), &sfs) == 0 && sfs.f_type == OVERLAYFS_SUPER_MAGIC;
    trees.push_back(clone_tree(spec.root, {spec.read_only_root, overlay_root ? -1 : userns.get()}));
    for (const Bind& b : spec.binds)
      trees.push_back(clone_tree(b.source, {!b.writable, userns.get()}));
    send_fds(ours.get(), trees);
    return 0;
  } catch (...) {
    report_exception(report);
    if (init > 0) ::kill(init, SIGKILL);
    return 1;
  }
}

// `goodcop __jail-enter SPEC REPORT PIDFD`: joins a running jail's namespaces and runs
// spec.argv there with the jail's confinement; exits with its status.
int enter_main(int spec_fd, int report, int pidfd) {
  pid_t child = -1;
  try {
    const JailSpec spec = decode_spec(read_all(spec_fd, 16u << 20));
    ::close(spec_fd);
    // setns(2) on a pidfd joins all the namespaces at once, and a recycled pid can't
    // send us into some other process's namespaces.
    check(::setns(pidfd, namespace_flags(spec)), "setns", spec.name);
    ::close(pidfd);
    child = ::fork();  // the first process to join the jail's pid namespace
    check(child, "fork");
    if (child == 0) {
      try {
        confine(spec);
      } catch (...) {
        report_exception(report);
        ::_exit(127);
      }
      run_command(spec, report);
    }
  } catch (...) {
    report_exception(report);
    return 127;
  }
  ::close(report);
  int st = 0;
  while (::waitpid(child, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int parse_fd(const char* s) {
  auto p = parse_uint(s, 0, 65535);
  if (!p) throw Error(std::string("internal mode: bad fd '") + s + "'");
  return static_cast<int>(p.value);
}

}  // namespace

std::optional<int> run_internal_mode(int argc, char** argv) {
  if (argc < 2) return std::nullopt;
  const std::string mode = argv[1];
  if (mode != kSetupArg && mode != kEnterArg) return std::nullopt;
  if (argc != 5) return 2;
  int a = 0, b = 0, c = 0;
  try {
    a = parse_fd(argv[2]);
    b = parse_fd(argv[3]);
    c = parse_fd(argv[4]);
  } catch (const std::exception&) {
    return 2;
  }
  // The starter cleared O_CLOEXEC on these to pass them; set it back so nothing the jail
  // runs inherits them by accident.
  for (int fd : {a, b, c}) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  if (mode == kSetupArg) return setup_main(a, b, c);
  // _exit, not a return through exit(): this process now sees the jail's /proc, where it
  // does not exist itself (it stayed in the host's pid namespace), and exit-time handlers
  // that read /proc/self (LeakSanitizer's) hang there.
  ::_exit(enter_main(a, b, c));
}

}  // namespace goodcop::kernel
