#pragma once
// End-to-end fixture: a real `goodcop daemon` supervising real jails built from Debian's
// busybox-static (demo/make-jail-tree), each serving a page with `busybox httpd` on its own
// address from 198.18.0.0/15, on a tmpfs this fixture mounts. Everything it creates is
// removed by its destructor, even after the test failed or the daemon was SIGKILLed:
// the daemon is stopped, leftover jails are killed (their cgroups and veths), the overlays
// and the tmpfs unmounted, the unreachable route for the test prefix removed.

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/support.h"

namespace goodcop::test {

// How one jail of the test is set up.
struct JailSetup {
  std::string name = "web1";
  unsigned index = 1;  // its address is 198.18.<index>.2
  std::string storage = "overlay";
  std::string on_tamper = "heal";
  std::string interval = "1s";
  bool triggers = true;
  bool userns = true;
  // exec.start; empty: busybox httpd serving /www on port 80 in the foreground.
  std::vector<std::string> start;
  std::string user;   // exec.user; empty: the default (root)
  std::string extra;  // more YAML lines appended to the policy
};

class DaemonFixture {
 public:
  DaemonFixture();
  ~DaemonFixture();
  DaemonFixture(const DaemonFixture&) = delete;
  DaemonFixture& operator=(const DaemonFixture&) = delete;

  // Builds the jail's tree, seals it as golden version 1, writes its policy.
  void add_jail(const JailSetup& j);
  // Rewrites a jail's policy file (a reload test changes it).
  void write_policy(const JailSetup& j);

  // Starts the daemon and (when wait_running) waits until every jail is running.
  void start_daemon(bool wait_running = true);
  // Sends sig to the daemon and waits for it to exit; returns its exit status (waitpid form).
  int stop_daemon(int sig = SIGTERM);
  pid_t daemon_pid() const { return daemon_; }

  // `goodcop VERB --socket SOCK ARGS...`.
  RunResult ctl(std::vector<std::string> args);
  // The state of a jail as `status --json` says ("" when the daemon does not answer).
  std::string state_of(const std::string& jail);
  // Polls pred every 50 ms until it is true or `timeout` passed; returns its last value.
  bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout);
  bool wait_state(const std::string& jail, const std::string& state,
                  std::chrono::milliseconds timeout = std::chrono::seconds(20));

  // GET / from the jail's address, port 80; "" when nothing answered within 2 s.
  std::string http_get(const std::string& jail);
  std::string address(const std::string& jail) const;

  // The event log, one JSON object per line.
  std::vector<nlohmann::json> events() const;
  // The "to" states of a jail's events, in order, from event number `from` on.
  std::vector<std::string> transitions(const std::string& jail, size_t from = 0) const;
  // The daemon's stderr so far (for failure messages).
  std::string daemon_log() const;

  // The host pid of the jail's init (the pid in its cgroup whose NSpid ends in 1), or 0.
  pid_t init_pid(const std::string& jail) const;
  std::vector<pid_t> jail_pids(const std::string& jail) const;

  const std::string& root() const { return root_; }
  std::string jail_path(const std::string& jail) const { return root_ + "/jails/" + jail; }
  std::string src_path(const std::string& jail) const { return root_ + "/src/" + jail; }
  std::string golden(const std::string& jail) const { return root_ + "/golden/" + jail; }
  std::string evidence_dir(const std::string& jail) const { return root_ + "/evidence/" + jail; }
  std::string policies() const { return root_ + "/policies"; }
  std::string state_dir() const { return root_ + "/state"; }
  std::string socket() const { return root_ + "/run/control.sock"; }
  std::string event_log() const { return root_ + "/events.log"; }

 private:
  void cleanup_jails();

  std::unique_ptr<TempDir> tmp_;
  std::string root_;
  bool mounted_ = false;
  std::vector<JailSetup> jails_;
  pid_t daemon_ = -1;
  std::string stderr_file_;
  struct Route;
  std::unique_ptr<Route> route_;
};

// The original page of a jail built by demo/make-jail-tree.
std::string original_page(const std::string& jail);

}  // namespace goodcop::test
