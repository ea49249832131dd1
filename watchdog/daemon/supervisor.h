#pragma once
// Supervisor: the set of supervised jails on one event loop. It owns one JailTask per
// jail, spreads their checks over their intervals, answers control requests, reloads
// the policies (restarting only what changed) and stops every jail cleanly. main() (or
// a test) wires the loop, pool, store, log and the policy source in.

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "watchdog/daemon/jail_task.h"
#include "watchdog/daemon/metrics.h"

namespace goodcop::supervisor {

// One jail as its policy file asks for it.
struct DesiredJail {
  JailConfig cfg;
  std::string file;         // the policy file it came from
  std::string fingerprint;  // normalized policy text: a change restarts the jail
  std::function<std::unique_ptr<JailDriver>()> make_driver;  // called on the loop thread
};

// What the policy directory asks for now.
struct PolicySet {
  std::vector<DesiredJail> jails;
  std::vector<std::string> problems;   // one line per broken file ("FILE:L:C: message")
  std::set<std::string> broken_files;  // their jails (by file) keep running as they are
};

// Reads the policy directory; runs on the loop thread. May throw Error (the directory
// is unreadable): a reload then fails and every jail keeps its policy.
using PolicySource = std::function<PolicySet()>;

// What one reload did.
struct ReloadResult {
  unsigned added = 0, restarted = 0, removed = 0, unchanged = 0;
  std::vector<std::string> problems;  // broken files and jails that could not be set up
  std::string error;                  // the reload itself failed; nothing was changed
  // "reloaded: 1 added, 1 restarted, 1 removed, 2 unchanged"
  std::string summary() const;
};

class Supervisor {
 public:
  struct Options {
    unsigned max_execs = 16;   // concurrent `goodcop exec` sessions (each holds a thread)
    std::string metrics_path;  // the Prometheus textfile ("" = none), metrics.h
    std::chrono::milliseconds metrics_interval{1000};  // at most one write per interval
  };

  Supervisor(boost::asio::io_context& io, boost::asio::thread_pool& pool, const StateStore& store,
             EventLog& events, PolicySource source);
  Supervisor(boost::asio::io_context& io, boost::asio::thread_pool& pool, const StateStore& store,
             EventLog& events, PolicySource source, Options opt);
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;
  // Joins the exec threads (their jails are stopped by then, so they return).
  ~Supervisor();

  // Takes the policy set, logs its problems, and resumes every good jail from its state
  // file (or starts it) with spread check offsets.
  void start();
  // Answers one control request (status, reload, exec and the jail verbs).
  void handle(const Request& req, Reply reply);
  // Re-reads the policies: stops removed jails, starts new ones, restarts changed ones,
  // leaves the rest alone. `done` runs on the loop once the stops are through and the
  // new jails have begun. Reloads run one after the other.
  void reload(std::function<void(const ReloadResult&)> done);
  // Stops every jail; `done` runs on the loop once all are stopped.
  void stop_all(std::function<void()> done);
  bool stopping() const { return stopping_; }

  // The status of every jail, sorted by name.
  std::vector<JailStatus> status() const;
  JailTask* find(const std::string& name);
  // The metrics writer, or nullptr when there is no metrics file.
  MetricsWriter* metrics() { return metrics_.get(); }

 private:
  struct Entry {
    std::unique_ptr<JailTask> task;
    std::string file;
    std::string fingerprint;
    bool retiring = false;  // being stopped by a reload
  };
  struct ExecThread;

  void add_jail(DesiredJail d, size_t index, size_t count, const std::string& reason,
                std::vector<std::string>& problems);
  void run_reload(std::function<void(const ReloadResult&)> done);
  void next_reload();
  void start_exec(const Request& req, Reply reply);

  boost::asio::io_context& io_;
  boost::asio::thread_pool& pool_;
  const StateStore& store_;
  EventLog& events_;
  PolicySource source_;
  Options opt_;
  std::map<std::string, Entry> jails_;
  std::vector<std::function<void(const ReloadResult&)>> reloads_;  // queued reloads
  bool reloading_ = false;
  bool stopping_ = false;
  std::vector<std::function<void()>> idle_waiters_;  // stop_all waiting for a reload
  std::unique_ptr<MetricsWriter> metrics_;
  std::map<uint64_t, std::thread> execs_;
  uint64_t exec_seq_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// The status as the JSON body of a response: {"jails":[{...}, ...]}.
nlohmann::json status_json(const std::vector<JailStatus>& jails);

}  // namespace goodcop::supervisor
