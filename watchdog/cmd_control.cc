// The verbs that talk to a running daemon over its control socket: status, check,
// snapshot, freeze, thaw, restore, exec, maintain, seal, rollback, reload.
#include <fcntl.h>

#include <iostream>
#include <memory>

#include "base/error.h"
#include "base/fd.h"
#include "base/parse.h"
#include "watchdog/cli.h"
#include "watchdog/daemon/control_client.h"
#include "watchdog/daemon/control_server.h"

namespace goodcop::cli {
namespace {

using supervisor::Request;
using supervisor::Response;

struct ControlFlags {
  std::string socket = supervisor::kDefaultSocket;
  Request req;
  bool json = false;
  std::string on_off;
  std::string window;
};

std::string pad(std::string s, size_t w) {
  if (s.size() < w) s.append(w - s.size(), ' ');
  return s;
}

// The status table: one row per jail, columns as wide as their widest cell.
void print_status(const nlohmann::json& body) {
  std::vector<std::vector<std::string>> rows = {
      {"JAIL", "STATE", "ADDRESS", "LAST CHECK", "TOOK", "LAST INCIDENT", "RESTARTS"}};
  for (const auto& j : body.value("jails", nlohmann::json::array())) {
    auto str = [&](const char* k) {
      return j.contains(k) && j[k].is_string() && !j[k].get<std::string>().empty()
                 ? j[k].get<std::string>()
                 : std::string("-");
    };
    int64_t ms = j.value("last_check_ms", int64_t{-1});
    rows.push_back({str("jail"), str("state"), str("address"), str("last_check"),
                    ms < 0 ? "-" : std::to_string(ms) + "ms", str("last_incident"),
                    std::to_string(j.value("restarts", 0u))});
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) line += i + 1 < r.size() ? pad(r[i], width[i] + 2) : r[i];
    std::cout << line << "\n";
  }
}

// Our stdin, stdout and stderr for `exec`; a closed one is replaced by /dev/null (a
// descriptor that is not open cannot be passed, and the jail's command expects three).
std::vector<int> exec_stdio(std::vector<UniqueFd>& keep) {
  std::vector<int> fds;
  for (int fd = 0; fd < 3; ++fd) {
    if (::fcntl(fd, F_GETFD) >= 0) {
      fds.push_back(fd);
      continue;
    }
    keep.push_back(open_fd("/dev/null", O_RDWR | O_CLOEXEC));
    fds.push_back(keep.back().get());
  }
  return fds;
}

// Sends the request and maps the answer to output and an exit code.
int run_request(const std::string& verb, const ControlFlags& f) {
  std::vector<UniqueFd> keep;
  std::vector<int> pass;
  if (f.req.verb == supervisor::Verb::kExec) pass = exec_stdio(keep);
  Response r = supervisor::call_daemon(f.socket, f.req, pass);
  if (!r.ok) {
    std::cerr << "goodcop: " << verb << ": " << r.error << "\n";
    return r.exit_code;
  }
  switch (f.req.verb) {
    case supervisor::Verb::kStatus:
      if (f.json)
        std::cout << r.body.dump(2) << "\n";
      else
        print_status(r.body);
      return kExitOk;
    case supervisor::Verb::kCheck: {
      bool dev = r.body.value("result", "") == "deviation";
      std::cout << f.req.jail << ": " << (dev ? "deviation" : "clean");
      if (dev && !r.body.value("summary", "").empty())
        std::cout << ": " << r.body["summary"].get<std::string>();
      std::cout << "\n";
      return dev ? kExitDeviation : kExitOk;
    }
    case supervisor::Verb::kExec:
      // The command's own exit code, like jexec(8): 127 "not found in the jail" included.
      return r.body.value("status", kExitFailure);
    case supervisor::Verb::kSnapshot:
      std::cout << r.body.value("evidence", "") << "\n";
      return kExitOk;
    case supervisor::Verb::kSeal:
      std::cout << f.req.jail << ": " << r.body.value("result", "sealed") << "\n";
      return kExitOk;
    case supervisor::Verb::kRollback:
      std::cout << f.req.jail << ": " << r.body.value("result", "rolled back") << ", "
                << r.body.value("state", "done") << "\n";
      return kExitOk;
    case supervisor::Verb::kReload: {
      // The good changes are applied either way; broken files are a policy error (2).
      std::cout << r.body.value("result", "reloaded") << "\n";
      auto problems = r.body.value("problems", nlohmann::json::array());
      for (const auto& p : problems)
        if (p.is_string()) std::cerr << "goodcop: reload: " << p.get<std::string>() << "\n";
      return problems.empty() ? kExitOk : kExitUsage;
    }
    default:
      std::cout << f.req.jail << ": " << r.body.value("state", "done") << "\n";
      return kExitOk;
  }
}

Verb make(CLI::App& root, const char* name, const char* help, supervisor::Verb verb,
          const std::function<void(CLI::App&, ControlFlags&)>& extra = {}) {
  auto f = std::make_shared<ControlFlags>();
  f->req.verb = verb;
  Verb v;
  v.app = root.add_subcommand(name, help);
  v.app->add_option("--socket", f->socket, "control socket of the daemon")->capture_default_str();
  if (extra) extra(*v.app, *f);
  std::string verb_name = name;
  CLI::App* app = v.app;
  v.run = [f, verb_name, app] {
    if (f->req.verb == supervisor::Verb::kExec) {
      // JAIL and the command are what the parser left (prefix_command): options of goodcop
      // come before JAIL, as jexec(8) takes them; a `--` right after JAIL is dropped, one
      // inside the command is the command's.
      std::vector<std::string> rest = app->remaining();
      if (rest.empty()) {
        std::cerr << "goodcop: exec: no jail: goodcop exec [--socket PATH] JAIL COMMAND [ARG...]\n";
        return kExitUsage;
      }
      f->req.jail = rest.front();
      size_t first = rest.size() > 1 && rest[1] == "--" ? 2 : 1;
      f->req.argv.assign(rest.begin() + static_cast<std::ptrdiff_t>(first), rest.end());
      if (f->req.argv.empty()) {
        std::cerr << "goodcop: exec: no command: goodcop exec JAIL COMMAND [ARG...]\n";
        return kExitUsage;
      }
    }
    if (f->req.verb == supervisor::Verb::kMaintain) {
      if (f->on_off != "on" && f->on_off != "off") {
        std::cerr << "goodcop: maintain: expected 'on' or 'off', got '" << f->on_off << "'\n";
        return kExitUsage;
      }
      f->req.on = f->on_off == "on";
      if (!f->window.empty()) {
        if (!f->req.on) {
          std::cerr << "goodcop: maintain: --for applies to 'on' only\n";
          return kExitUsage;
        }
        auto d = parse_duration(f->window);
        if (!d || d.value.count() <= 0) {
          std::cerr << "goodcop: maintain: --for '" << f->window
                    << "': " << (d ? "must be positive" : d.error) << "\n";
          return kExitUsage;
        }
        f->req.duration = d.value;
      }
    }
    return run_request(verb_name, *f);
  };
  return v;
}

// `exec` parses JAIL and COMMAND itself (prefix_command): its usage line names them.
struct ExecFormatter : CLI::Formatter {
  std::string make_usage(const CLI::App*, std::string name) const override {
    return "Usage: " + name + " [OPTIONS] JAIL [--] COMMAND [ARG...]\n";
  }
};

void jail_arg(CLI::App& app, ControlFlags& f) {
  app.add_option("JAIL", f.req.jail, "jail name")->required();
}

}  // namespace

// Sends one jail verb to the daemon and prints its answer, for a verb that has both an
// offline and a daemon form (`goodcop seal JAIL` next to `goodcop seal DIR -o ARCHIVE`):
// the offline verb calls this when it is given a jail name. (Declare it in cli.h to use.)
int run_daemon_jail_verb(const std::string& verb, const std::string& jail,
                         const std::string& socket) {
  ControlFlags f;
  f.socket = socket.empty() ? std::string(supervisor::kDefaultSocket) : socket;
  bool found = false;
  for (auto v : {supervisor::Verb::kSeal, supervisor::Verb::kRestore, supervisor::Verb::kRollback,
                 supervisor::Verb::kSnapshot, supervisor::Verb::kFreeze, supervisor::Verb::kThaw,
                 supervisor::Verb::kCheck}) {
    if (supervisor::verb_name(v) == verb) {
      f.req.verb = v;
      found = true;
    }
  }
  if (!found) throw Error("'" + verb + "' is not a daemon jail verb");
  f.req.jail = jail;
  return run_request(verb, f);
}

std::vector<Verb> add_control_verbs(CLI::App& root) {
  using supervisor::Verb;
  std::vector<cli::Verb> out;
  // `seal` and `restore` also have offline forms (backups/: `seal DIR -o ARCHIVE`,
  // `restore ARCHIVE DIR`). Whichever is registered first keeps the name, so the binary
  // never fails at startup on a duplicate subcommand; see run_daemon_jail_verb().
  auto taken = [&root](const char* name) {
    return !root.get_subcommands([name](const CLI::App* a) { return a->get_name() == name; })
                .empty();
  };
  out.push_back(make(root, "status", "show every jail's state (from the daemon)", Verb::kStatus,
                     [](CLI::App& a, ControlFlags& f) {
                       a.add_flag("--json", f.json, "print JSON instead of a table");
                     }));
  out.push_back(
      make(root, "check", "check a jail now (exit 1 on deviation)", Verb::kCheck, jail_arg));
  out.push_back(
      make(root, "snapshot", "write an evidence bundle of a live jail", Verb::kSnapshot, jail_arg));
  out.push_back(make(root, "freeze", "freeze every process of a jail", Verb::kFreeze, jail_arg));
  out.push_back(make(root, "thaw", "thaw a frozen jail", Verb::kThaw, jail_arg));
  if (!taken("restore"))
    out.push_back(make(root, "restore", "restore a jail from its golden archive and restart it",
                       Verb::kRestore, jail_arg));
  out.push_back(make(root, "exec", "run a command inside a jail (like jexec)", Verb::kExec,
                     [](CLI::App& a, ControlFlags&) {
                       // JAIL and everything after it are the parser's remainder: the
                       // command's options stay its own (`exec web1 /bin/sh -c 'ls -l'`).
                       a.prefix_command();
                       a.formatter(std::make_shared<ExecFormatter>());
                       a.footer("JAIL              the jail (required)\n"
                                "COMMAND [ARG...]  the command to run in the jail, with its "
                                "arguments (required); a '--' between JAIL and COMMAND is "
                                "allowed\n\n"
                                "goodcop's options come before JAIL.");
                     }));
  out.push_back(make(root, "maintain", "pause the watch of a jail while an operator upgrades it",
                     Verb::kMaintain, [](CLI::App& a, ControlFlags& f) {
                       jail_arg(a, f);
                       a.add_option("MODE", f.on_off, "on or off")->required();
                       a.add_option("--for", f.window, "maintenance window (default 1h)");
                     }));
  if (!taken("seal"))
    out.push_back(make(root, "seal", "accept a jail's current tree as its new golden version",
                       Verb::kSeal, jail_arg));
  out.push_back(make(root, "rollback", "restore a jail from an earlier golden version",
                     Verb::kRollback, [](CLI::App& a, ControlFlags& f) {
                       jail_arg(a, f);
                       a.add_option("VERSION", f.req.version, "golden version (default: previous)");
                     }));
  out.push_back(make(root, "reload", "re-read the policies", Verb::kReload));
  return out;
}

}  // namespace goodcop::cli
