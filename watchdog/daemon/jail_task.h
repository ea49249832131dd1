#pragma once
// JailTask: one jail's timer chain on the daemon's event loop. It feeds inputs to the
// pure transition function, persists each step (state + action cursor) before running
// its action, writes one event per state change, and runs the driver's heavy calls on
// the work pool with completions posted back to the loop. Everything here runs on the
// loop's single thread, so nothing is locked.

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "watchdog/daemon/driver.h"
#include "watchdog/daemon/events.h"
#include "watchdog/daemon/lifecycle.h"
#include "watchdog/daemon/persist.h"
#include "watchdog/daemon/protocol.h"

namespace goodcop::supervisor {

// What the supervisor knows of one jail's policy (mapped from config's Policy).
struct JailConfig {
  std::string name;
  std::chrono::milliseconds interval{5000};
  OnTamper on_tamper = OnTamper::kHeal;
  std::chrono::milliseconds maintain_default{std::chrono::hours(1)};
  std::chrono::milliseconds maintain_max{std::chrono::hours(24)};
  RestartPolicy restart;
};

// A jail's row of `goodcop status`.
struct JailStatus {
  std::string name;
  State state = State::kStarting;
  std::string address;
  std::string last_check;      // RFC 3339 UTC, "" before the first check
  int64_t last_check_ms = -1;  // duration of the last check
  std::chrono::system_clock::time_point last_check_time{};
  std::string last_incident;  // evidence path of the last incident, "" if none
  unsigned restarts = 0;
  // Counters since the daemon started supervising the jail (metrics.h).
  uint64_t checks = 0;             // checks completed (clean or not)
  uint64_t deviations = 0;         // deviations found
  uint64_t heals = 0;              // restores from golden completed
  uint64_t evidence_failures = 0;  // evidence bundles that could not be written
};

using Reply = std::function<void(Response)>;

// The id of an incident (and its bundle's name): "web1-20261129T182001.123Z".
std::string incident_id(const std::string& jail, std::chrono::system_clock::time_point t);

class JailTask {
 public:
  // `offset`: when the first check is due after the jail is up (check_offset()).
  JailTask(boost::asio::io_context& io, boost::asio::thread_pool& pool, JailConfig cfg,
           std::unique_ptr<JailDriver> driver, const StateStore& store, EventLog& events,
           std::chrono::milliseconds offset);
  JailTask(const JailTask&) = delete;
  JailTask& operator=(const JailTask&) = delete;
  ~JailTask();

  // Picks the jail up from its record (persist.h resume()) and runs the first action.
  // `why` (if not empty) is the first event's reason instead of the resume table's.
  void begin(const std::optional<JailRecord>& rec, const std::string& why = "");
  // An operator request (check, snapshot, freeze, thaw, restore, maintain, seal,
  // rollback); replies when settled. Requests run one at a time, between actions.
  void request(const Request& req, Reply reply);
  // Stops the jail (after the action in flight, and a heal in progress, if any); `done`
  // runs once it is stopped. `reason` goes into the event.
  void stop(std::function<void()> done, const std::string& reason = "daemon stopping");
  // Runs after every state change and check (the metrics file is rewritten from it).
  void on_change(std::function<void()> fn) { on_change_ = std::move(fn); }
  // Keeps the counters of the task this one replaces (a reload restarted the jail).
  void inherit_counters(const JailStatus& s);

  JailStatus status() const;
  State state() const { return state_; }
  const std::string& name() const { return cfg_.name; }
  // The driver, for `goodcop exec` (which runs beside the task's own calls).
  std::shared_ptr<JailDriver> driver() const { return driver_; }

 private:
  // What a queued request does: feed an input to the state machine, or one of the
  // operations that leave the state as it is (snapshot, seal) or lead into it (rollback).
  enum class Op : uint8_t { kInput, kSnapshot, kSeal, kRollback };
  struct Queued {
    Input input;
    std::string reason;
    Reply reply;  // empty for internal inputs (a main process death)
    std::chrono::milliseconds duration{0};
    Op op = Op::kInput;
    std::string version;  // rollback
  };

  bool feed(Input in, const std::string& reason);
  void enter(Step step, const std::string& reason);
  void run(Action a);
  void settle();
  void persist();
  void emit(State from, State to, const std::string& reason);
  void arm_timer(std::chrono::steady_clock::time_point when, std::function<void()> fn);
  void cancel_timer();
  void arm_exit_watch();
  void disarm_exit_watch();
  // Watches the driver's change trigger: a write to the tree brings the next check forward.
  void arm_change_watch();
  void disarm_change_watch();
  void wait_change(uint64_t gen);
  void on_check_result(const CheckResult& r, std::chrono::milliseconds took);
  void fail_waiters_if_failed();
  void run_op(Queued q);
  void run_snapshot(Reply reply);
  void run_seal(Reply reply);
  void run_rollback(const std::string& version, Reply reply);
  Response refuse(const char* verb) const;
  void changed();
  // Runs fn on the pool; calls done(error) on the loop ("" = success).
  void on_pool(std::function<void()> fn, std::function<void(const std::string&)> done);

  boost::asio::io_context& io_;
  boost::asio::thread_pool& pool_;
  JailConfig cfg_;
  std::shared_ptr<JailDriver> driver_;  // shared with the work item in flight
  const StateStore& store_;
  EventLog& events_;
  std::chrono::milliseconds offset_;

  State state_ = State::kStarting;
  Action action_ = Action::kNone;
  bool busy_ = false;  // a driver call is on the pool
  JailRecord record_;
  RestartTracker tracker_;
  std::chrono::milliseconds restart_delay_{0};
  std::optional<std::chrono::steady_clock::time_point> next_check_;
  std::chrono::system_clock::time_point maintain_until_{};
  std::string last_alert_fingerprint_;
  std::string pending_evidence_;  // goes into the next event
  std::string last_error_;

  boost::asio::steady_timer timer_;
  uint64_t timer_gen_ = 0;
  boost::asio::posix::stream_descriptor exit_watch_;
  uint64_t exit_gen_ = 0;
  boost::asio::posix::stream_descriptor change_watch_;
  uint64_t change_gen_ = 0;

  std::deque<Queued> queue_;
  std::vector<Reply> check_waiters_;   // `goodcop check`: the check's result
  std::vector<Reply> settle_waiters_;  // other requests: the state once settled
  std::vector<std::function<void()>> stop_waiters_;
  std::function<void()> on_change_;
  JailStatus status_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace goodcop::supervisor
