// `goodcop jail [OPTIONS] PATH HOSTNAME IP[,IP...] COMMAND [ARG...]`: jail(8) on Linux.
// Runs COMMAND in a fresh jail in the foreground and exits with its status.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <iostream>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "base/parse.h"
#include "base/version.h"
#include "kernel/caps.h"
#include "kernel/jail.h"
#include "kernel/netlink.h"
#include "kernel/users.h"
#include "watchdog/cli.h"

namespace goodcop::cli {
namespace {

// Bad input: one line, exit 2.
struct UsageError : Error {
  using Error::Error;
};

struct JailArgs {
  std::string user, group, memory, pids, cpu, net, init = "goodcop", name, cwd = "/", caps;
  std::vector<std::string> binds, binds_rw, env;
  bool read_only = false;
  bool no_userns = false;
};

bool is_loopback(const Address& a) {
  if (a.family == AF_INET) return a.bytes[0] == 127;
  static const std::array<uint8_t, 16> kV6Loopback{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return a.bytes == kV6Loopback;
}

// PATH must be a directory owned by root and writable by nobody else: a jail tree a user
// can change is a tree they can plant a setuid binary or a symlink in.
void check_root_dir(const std::string& path) {
  if (path.empty() || path[0] != '/') throw UsageError("'" + path + "': not an absolute path");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) throw UsageError("'" + path + "': no such directory");
    throw SysError("stat", path, errno);
  }
  if (!S_ISDIR(st.st_mode)) throw UsageError("'" + path + "': not a directory");
  if (st.st_uid != 0) throw UsageError("'" + path + "': not owned by root");
  if ((st.st_mode & S_IWOTH) != 0 || ((st.st_mode & S_IWGRP) != 0 && st.st_gid != 0))
    throw UsageError("'" + path + "': writable by others");
}

uint64_t parse_number(const std::string& what, const std::string& text, uint64_t min,
                      uint64_t max) {
  auto p = parse_uint(text, min, max);
  if (!p) throw UsageError("invalid " + what + " '" + text + "': " + p.error);
  return p.value;
}

kernel::Bind parse_bind(const std::string& text, bool writable) {
  kernel::Bind b;
  auto colon = text.find(':');
  b.source = text.substr(0, colon);
  b.target = colon == std::string::npos ? b.source : text.substr(colon + 1);
  b.writable = writable;
  if (b.source.empty() || b.source[0] != '/' || b.target.empty() || b.target[0] != '/')
    throw UsageError("invalid bind '" + text + "' (expected /SOURCE[:/TARGET])");
  return b;
}

// -u USER[:GROUP] and -g GROUP: names from the jail's own /etc/passwd and /etc/group (read
// inside its tree, kernel/users.h), or numbers. A named user's supplementary groups come from
// the jail's /etc/group too.
void resolve_ids(const JailArgs& a, kernel::JailSpec& spec) {
  std::string user = a.user, group = a.group;
  if (auto colon = user.find(':'); colon != std::string::npos) {
    if (!group.empty())
      throw UsageError("a group in both '-u " + a.user + "' and '-g " + a.group + "'");
    group = user.substr(colon + 1);
    user.resize(colon);
    if (user.empty() || group.empty()) throw UsageError("invalid user '" + a.user + "'");
  }
  try {
    if (!user.empty()) std::tie(spec.uid, spec.gid) = kernel::resolve_user(spec.root, user);
    if (!group.empty()) spec.gid = kernel::resolve_group(spec.root, group);
    // A named user gets its supplementary groups from the jail's /etc/group (initgroups(3));
    // a number has no name to look up: just its group.
    const bool named = !user.empty() && user.find_first_not_of("0123456789") != std::string::npos;
    if (named) spec.groups = kernel::resolve_groups(spec.root, user, spec.gid);
  } catch (const SysError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(e.what());  // not in the jail, out of the jail's range: bad input
  }
}

kernel::JailSpec make_spec(const JailArgs& a, const std::vector<std::string>& rest) {
  if (rest.size() < 4) throw UsageError("expected PATH HOSTNAME IP[,IP...] COMMAND [ARG...]");
  kernel::JailSpec spec;
  spec.root = rest[0];
  check_root_dir(spec.root);
  if (spec.root.size() > 1 && spec.root.back() == '/') spec.root.pop_back();
  spec.hostname = rest[1];
  if (spec.hostname.empty()) throw UsageError("empty hostname");
  if (spec.hostname.size() > HOST_NAME_MAX)
    throw UsageError("hostname '" + spec.hostname + "' is too long (" +
                     std::to_string(spec.hostname.size()) + " characters, at most " +
                     std::to_string(HOST_NAME_MAX) + ")");
  if (rest[2] != "-") {
    size_t start = 0;
    std::vector<Address> all;
    for (;;) {
      size_t comma = rest[2].find(',', start);
      std::string ip = rest[2].substr(start, comma == std::string::npos ? comma : comma - start);
      auto parsed = parse_address(ip);
      if (!parsed) throw UsageError(parsed.error);
      for (const Address& seen : all)
        if (seen.ip() == parsed.value.ip()) throw UsageError("duplicate IP address '" + ip + "'");
      all.push_back(parsed.value);
      // The jail's loopback is its own: 127.0.0.2 needs no veth.
      if (!is_loopback(parsed.value)) spec.addresses.push_back(parsed.value);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  spec.argv.assign(rest.begin() + 3, rest.end());
  spec.net = spec.addresses.empty() ? kernel::NetMode::kNone : kernel::NetMode::kVeth;
  if (!a.net.empty()) {
    if (a.net == "none")
      spec.net = kernel::NetMode::kNone;
    else if (a.net == "veth")
      spec.net = kernel::NetMode::kVeth;
    else if (a.net == "host")
      spec.net = kernel::NetMode::kHost;
    else
      throw UsageError("invalid network mode '" + a.net + "' (none, veth or host)");
    if (spec.net == kernel::NetMode::kVeth && spec.addresses.empty())
      throw UsageError("network mode 'veth' needs a non-loopback IP address");
    if (spec.net != kernel::NetMode::kVeth) spec.addresses.clear();
  }
  spec.name = a.name.empty() ? "jail-" + std::to_string(::getpid()) : a.name;
  resolve_ids(a, spec);
  if (!a.memory.empty()) {
    auto p = parse_size(a.memory);
    if (!p || p.value == 0) throw UsageError("invalid memory limit '" + a.memory + "'");
    spec.limits.memory_bytes = p.value;
  }
  if (!a.pids.empty()) spec.limits.pids = parse_number("pids limit", a.pids, 1, 4194304);
  if (!a.cpu.empty()) spec.limits.cpu_millis = parse_number("cpu limit", a.cpu, 1, 100000) * 10;
  for (const auto& b : a.binds) spec.binds.push_back(parse_bind(b, false));
  for (const auto& b : a.binds_rw) spec.binds.push_back(parse_bind(b, true));
  spec.read_only_root = a.read_only;
  if (spec.root == "/") {
    // "I don't trust this script": it may read the whole host and ruin nothing.
    spec.read_only_root = true;
    spec.private_tmp = true;
  }
  spec.userns = !a.no_userns;
  if (a.init == "jail")
    spec.init = kernel::InitMode::kJail;
  else if (a.init != "goodcop")
    throw UsageError("invalid init '" + a.init + "' (goodcop or jail)");
  if (a.cwd.empty() || a.cwd[0] != '/')
    throw UsageError("invalid working directory '" + a.cwd + "'");
  spec.cwd = a.cwd;
  spec.env = a.env;
  if (!a.caps.empty()) {
    spec.capabilities = 0;
    if (a.caps != "none") {
      size_t start = 0;
      for (;;) {
        size_t comma = a.caps.find(',', start);
        std::string name = a.caps.substr(start, comma == std::string::npos ? comma : comma - start);
        auto cap = kernel::capability_from_name(name);
        if (!cap) throw UsageError("unknown capability '" + name + "'");
        spec.capabilities |= uint64_t{1} << *cap;
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
  }
  spec.cgroup = false;  // only for limits: a one-shot jail needs no freezer
  spec.die_with_parent = true;
  return spec;
}

// Runs the jail in the foreground, forwarding TERM/INT/HUP to its init. Returns as soon as
// the init has reported the command's status, which it does once every other process of the
// jail is gone: a jail without a cgroup or veth (the default) leaves nothing for us to clean
// up, and the init's own exit (the kernel's teardown of the jail's namespaces) needs no
// waiting for (docs/jail.md "Start cost"). With a cgroup or a veth, the Jail's destructor
// still kills, reaps and removes them.
int run_jail(const kernel::JailSpec& spec) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
  check(::sigprocmask(SIG_BLOCK, &set, nullptr), "sigprocmask");
  UniqueFd sfd(check(::signalfd(-1, &set, SFD_CLOEXEC), "signalfd"));
  // A helper of our own rather than the process-wide one, dropped as soon as the jail runs:
  // the exec'd setup process and the init hold the read-only mount of the helper file from
  // then on, so closing ours is cheap now, and the mount's teardown (an RCU grace period,
  // 0.15-0.3 ms) falls to the init's exit instead of ours, after the command's status is in.
  std::optional<kernel::Helper> helper(std::in_place);
  kernel::Jail jail = kernel::start(spec, *helper);
  helper.reset();
  pollfd fds[2] = {{jail.command_fd(), POLLIN, 0}, {sfd.get(), POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      check(-1, "poll");
    }
    if ((fds[1].revents & POLLIN) != 0) {
      signalfd_siginfo si{};
      if (::read(sfd.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si))
        jail.signal(static_cast<int>(si.ssi_signo));
    }
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const int code = jail.wait_command();
      jail.release();
      return code;
    }
  }
}

}  // namespace

Verb add_jail_verb(CLI::App& root) {
  auto args = std::make_shared<JailArgs>();
  Verb v;
  v.app = root.add_subcommand("jail", "run a command in a new jail (jail(8) on Linux)");
  CLI::App* app = v.app;
  app->footer(
      "Usage: goodcop jail [OPTIONS] PATH HOSTNAME IP[,IP...] COMMAND [ARG...]\n"
      "PATH is the jail's root ('/' = the host's tree read-only with a private /tmp).\n"
      "IP '-' means loopback only; loopback addresses (127.x, ::1) are the jail's own.\n"
      "Exits with the command's status (128+N when killed by signal N), 127 when the\n"
      "command is not found in the jail, 2 on bad input.");
  // Everything from PATH on belongs to the jail: COMMAND's own options are not ours.
  app->prefix_command();
  app->add_option("-u,--user", args->user,
                  "USER[:GROUP] inside the jail, names from its /etc/passwd and /etc/group or "
                  "numbers (default 0); a named user also gets its supplementary groups from "
                  "the jail's /etc/group, a number none");
  app->add_option("-g,--group", args->group, "GROUP inside the jail (default: the user's)");
  app->add_option("--memory", args->memory, "memory limit (512M, 2G)");
  app->add_option("--pids", args->pids, "process limit");
  app->add_option("--cpu", args->cpu, "CPU limit in percent of one CPU");
  app->add_option("--net", args->net, "none, veth or host (default: from the IPs)");
  // One value per occurrence: a repeatable option must not swallow PATH and the command.
  app->add_option("--bind", args->binds, "/SRC[:/DST] read-only bind (nosuid,nodev)")
      ->allow_extra_args(false);
  app->add_option("--bind-rw", args->binds_rw, "/SRC[:/DST] read-write bind (nosuid,nodev)")
      ->allow_extra_args(false);
  app->add_flag("--read-only", args->read_only, "mount the jail's root read-only");
  app->add_flag("--no-userns", args->no_userns,
                "no user namespace: the jail's root is the host's root, muzzled (weaker)");
  app->add_option("--init", args->init, "goodcop (default) or jail (COMMAND is pid 1)");
  app->add_option("--name", args->name, "name for the jail's cgroup and veth");
  app->add_option("-e,--env", args->env, "KEY=VALUE for the command's environment")
      ->allow_extra_args(false);
  app->add_option("--cwd", args->cwd, "working directory inside the jail");
  app->add_option("--caps", args->caps, "capabilities root keeps (comma list, or none)");
  v.run = [app, args]() -> int {
    try {
      kernel::JailSpec spec = make_spec(*args, app->remaining());
      return run_jail(spec);
    } catch (const UsageError& e) {
      std::cerr << "goodcop: jail: " << e.what() << "\n";
      return kExitUsage;
    } catch (const SysError& e) {
      if (e.code() == ENOENT && e.op().ends_with(": execve")) {
        std::cerr << "goodcop: jail: '" << e.path() << "': not found in jail\n";
        return 127;
      }
      throw;
    }
  };
  return v;
}

int run_jail_cli(int argc, char** argv) {
  auto app = make_root();
  std::vector<Verb> verbs{add_jail_verb(*app)};
  return parse_and_run(*app, verbs, argc, argv);
}

}  // namespace goodcop::cli
