#pragma once
// The per-jail lifecycle: states, the inputs that move a jail between them, the
// action the supervisor performs on entering a state, and ONE pure transition
// function (table-tested in tests/unit/watchdog/daemon_lifecycle_test.cc).
// Restart backoff, crash-loop detection and check spreading are pure functions too.
//
//   starting → running ⇄ checking → tampered → preserving → restoring → starting
//   plus frozen (kept for a responder), maintenance (watch paused), failed, stopped.

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>

namespace goodcop::supervisor {

// Where a jail is in its life. The names (state_name) are the contract of events and status.
enum class State : uint8_t {
  kStarting,     // being brought up (fresh start, adoption, or a restart after backoff)
  kRunning,      // up and clean, waiting for its next check
  kChecking,     // a check is running on the work pool
  kTampered,     // a deviation was found; the jail is being frozen
  kPreserving,   // frozen; the evidence bundle is being written and synced
  kRestoring,    // evidence is safe; the jail is killed and its tree restored
  kFrozen,       // frozen and kept for a responder (on_tamper freeze, evidence failure, request)
  kMaintenance,  // watch paused while an operator upgrades (time-limited)
  kFailed,       // crash loop or a failed heal step: needs an operator
  kStopped,      // stopped cleanly (daemon shutdown)
};

// What happened: a result of an action, a process event, or an operator request.
enum class Input : uint8_t {
  kCheckDue,         // the interval elapsed, or `goodcop check` asked
  kCheckClean,       // the check found the tree as sealed
  kDeviation,        // the check found a deviation
  kCheckFailed,      // the check itself failed (I/O error): logged, retried next interval
  kFrozenOk,         // the freeze action completed
  kEvidenceWritten,  // the evidence bundle is written and synced
  kEvidenceFailed,   // the evidence bundle could not be written
  kKilled,           // every process of the jail is gone
  kRestored,         // the jail's tree is the golden one again
  kStarted,          // the jail is up (started, or adopted after a daemon restart)
  kStartFailed,      // the start action failed
  kDied,             // the jail's main process exited
  kStepFailed,       // freeze, kill or restore failed
  kMaintainOn,       // `goodcop maintain JAIL on`
  kMaintainOff,      // `goodcop maintain JAIL off`, or the maintenance window expired
  kFreezeRequest,    // `goodcop freeze JAIL`
  kThawRequest,      // `goodcop thaw JAIL`
  kRestoreRequest,   // `goodcop restore JAIL`
  kStop,             // the daemon stops (SIGTERM) or the jail's policy went away
};

// What the supervisor does on entering the new state (at most one action per step).
enum class Action : uint8_t {
  kNone,
  kStart,          // start the jail now
  kRestart,        // start the jail after the backoff delay
  kAdopt,          // find a jail left by a previous daemon (resume); kStarted or kDied follows
  kCheck,          // run a check
  kFreeze,         // freeze every process (cgroup freezer)
  kThaw,           // thaw the jail
  kWriteEvidence,  // write and sync the evidence bundle
  kKill,           // kill every process of the jail (then restore)
  kRestore,        // restore the jail's tree from its golden archive
  kStop,           // stop the jail cleanly and remove what was created
};

// The policy's reaction to a deviation (config's on_tamper, mapped by the watchdog).
enum class OnTamper : uint8_t { kHeal, kFreeze, kAlert };

// What the transition function needs besides the state and the input.
struct Context {
  OnTamper on_tamper = OnTamper::kHeal;
  // True when this failure exhausts the restart budget (see RestartTracker).
  bool crash_loop = false;
};

// The result of one transition: the new state and the action to perform on entering it.
struct Step {
  State to;
  Action action;
  bool operator==(const Step&) const = default;
};

// The one transition function. nullopt: the input does not apply in that state
// (a request is answered with an error; a stale completion is ignored).
std::optional<Step> transition(State from, Input in, const Context& ctx);

// True for the states in which the jail's tree is known or suspected to deviate
// from its golden archive until a restore completes.
bool is_heal_state(State s);

// Stable lower-case names used in events, status and the state files.
std::string_view state_name(State s);
std::string_view input_name(Input in);
std::string_view action_name(Action a);
std::string_view on_tamper_name(OnTamper t);
std::optional<State> parse_state(std::string_view name);
std::optional<Action> parse_action(std::string_view name);

// Restart backoff and crash-loop detection.
struct RestartPolicy {
  std::chrono::milliseconds base{1000};      // first delay
  std::chrono::milliseconds cap{300000};     // the delay never exceeds this (5 min)
  unsigned max_failures = 5;                 // this many failures within `window` → failed
  std::chrono::milliseconds window{600000};  // 10 min
};

// The delay before restart number `attempt` (0-based): base * 2^attempt, capped.
// Never overflows, whatever the attempt.
std::chrono::milliseconds backoff_delay(unsigned attempt, const RestartPolicy& p);

// Remembers recent failures (start failed, main process died) of one jail.
class RestartTracker {
 public:
  using Clock = std::chrono::steady_clock;
  // What to do after a failure: give up (crash loop) or restart after `delay`.
  struct Decision {
    bool crash_loop = false;
    std::chrono::milliseconds delay{0};
  };
  // Records a failure at `now` and decides. Failures older than the window are forgotten,
  // so a jail that ran for a whole window starts again from the base delay.
  Decision record_failure(Clock::time_point now, const RestartPolicy& p);
  // Forgets every failure (an operator restore, a successful heal).
  void reset() { failures_.clear(); }
  size_t recent() const { return failures_.size(); }

 private:
  std::deque<Clock::time_point> failures_;
};

// The offset of jail `index` of `count` within one interval, so that checks of many
// jails are spread evenly over the interval instead of bunched at its start.
std::chrono::milliseconds check_offset(size_t index, size_t count,
                                       std::chrono::milliseconds interval);

}  // namespace goodcop::supervisor
