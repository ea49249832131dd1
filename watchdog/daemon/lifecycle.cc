#include "watchdog/daemon/lifecycle.h"

#include <array>
#include <utility>

namespace goodcop::supervisor {
namespace {

using S = State;
using I = Input;
using A = Action;

// A main process that died (or a start that failed) is restarted after backoff,
// unless the failure budget is spent: then the jail is failed, not busy-looping.
Step restart_or_fail(const Context& ctx) {
  return ctx.crash_loop ? Step{S::kFailed, A::kNone} : Step{S::kStarting, A::kRestart};
}

// The end of the preservation step depends on the policy. Evidence that could not be
// written never leads to a kill (DESIGN.md: "frozen, not nuked"); under `alert` the
// operator asked us never to disturb the jail, so it is thawed either way.
Step after_evidence(bool written, const Context& ctx) {
  switch (ctx.on_tamper) {
    case OnTamper::kHeal:
      return written ? Step{S::kRestoring, A::kKill} : Step{S::kFrozen, A::kNone};
    case OnTamper::kFreeze:
      return Step{S::kFrozen, A::kNone};
    case OnTamper::kAlert:
      return Step{S::kRunning, A::kThaw};
  }
  return Step{S::kFrozen, A::kNone};
}

}  // namespace

std::optional<Step> transition(State from, Input in, const Context& ctx) {
  // Stopping wins everywhere: the loop applies it between actions, never during one.
  if (in == I::kStop) {
    if (from == S::kStopped) return std::nullopt;
    return Step{S::kStopped, A::kStop};
  }
  switch (from) {
    case S::kStarting:
      if (in == I::kStarted) return Step{S::kRunning, A::kNone};
      if (in == I::kStartFailed || in == I::kDied) return restart_or_fail(ctx);
      if (in == I::kRestoreRequest) return Step{S::kRestoring, A::kKill};
      break;
    case S::kRunning:
      if (in == I::kCheckDue) return Step{S::kChecking, A::kCheck};
      if (in == I::kDied) return restart_or_fail(ctx);
      if (in == I::kMaintainOn) return Step{S::kMaintenance, A::kNone};
      if (in == I::kFreezeRequest) return Step{S::kFrozen, A::kFreeze};
      if (in == I::kRestoreRequest) return Step{S::kRestoring, A::kKill};
      // A thaw (after an alert or a thaw request) that failed leaves processes frozen.
      if (in == I::kStepFailed) return Step{S::kFailed, A::kNone};
      break;
    case S::kChecking:
      if (in == I::kCheckClean || in == I::kCheckFailed) return Step{S::kRunning, A::kNone};
      // Freeze first, whatever the policy: evidence of volatile state is taken frozen.
      if (in == I::kDeviation) return Step{S::kTampered, A::kFreeze};
      break;
    case S::kTampered:
      if (in == I::kFrozenOk) return Step{S::kPreserving, A::kWriteEvidence};
      // Evidence is not written yet, so nothing may be destroyed: keep it for an operator.
      if (in == I::kStepFailed) return Step{S::kFailed, A::kNone};
      break;
    case S::kPreserving:
      if (in == I::kEvidenceWritten) return after_evidence(true, ctx);
      if (in == I::kEvidenceFailed) return after_evidence(false, ctx);
      break;
    case S::kRestoring:
      if (in == I::kKilled) return Step{S::kRestoring, A::kRestore};
      if (in == I::kRestored) return Step{S::kStarting, A::kStart};
      if (in == I::kStepFailed) return Step{S::kFailed, A::kNone};
      break;
    case S::kFrozen:
      if (in == I::kFrozenOk) return Step{S::kFrozen, A::kNone};
      if (in == I::kThawRequest) return Step{S::kRunning, A::kThaw};
      if (in == I::kRestoreRequest) return Step{S::kRestoring, A::kKill};
      if (in == I::kStepFailed) return Step{S::kFailed, A::kNone};
      break;
    case S::kMaintenance:
      // An adoption after a daemon restart keeps the window open.
      if (in == I::kStarted) return Step{S::kMaintenance, A::kNone};
      if (in == I::kDied) return restart_or_fail(ctx);
      // Check at once: an upgrade that was not sealed is a deviation like any other.
      if (in == I::kMaintainOff) return Step{S::kChecking, A::kCheck};
      if (in == I::kFreezeRequest) return Step{S::kFrozen, A::kFreeze};
      if (in == I::kRestoreRequest) return Step{S::kRestoring, A::kKill};
      break;
    case S::kFailed:
      if (in == I::kRestoreRequest) return Step{S::kRestoring, A::kKill};
      break;
    case S::kStopped:
      break;
  }
  return std::nullopt;
}

bool is_heal_state(State s) {
  return s == S::kTampered || s == S::kPreserving || s == S::kRestoring;
}

namespace {
constexpr std::array<std::string_view, 10> kStateNames = {
    "starting",  "running", "checking",    "tampered", "preserving",
    "restoring", "frozen",  "maintenance", "failed",   "stopped"};
constexpr std::array<std::string_view, 19> kInputNames = {
    "check due",        "check clean",       "deviation",       "check failed", "frozen",
    "evidence written", "evidence failed",   "killed",          "restored",     "started",
    "start failed",     "main process died", "step failed",     "maintain on",  "maintain off",
    "freeze request",   "thaw request",      "restore request", "stop"};
constexpr std::array<std::string_view, 11> kActionNames = {
    "none", "start",          "restart", "adopt",   "check", "freeze",
    "thaw", "write-evidence", "kill",    "restore", "stop"};
}  // namespace

std::string_view state_name(State s) { return kStateNames.at(static_cast<size_t>(s)); }
std::string_view input_name(Input in) { return kInputNames.at(static_cast<size_t>(in)); }
std::string_view action_name(Action a) { return kActionNames.at(static_cast<size_t>(a)); }

std::string_view on_tamper_name(OnTamper t) {
  switch (t) {
    case OnTamper::kHeal:
      return "heal";
    case OnTamper::kFreeze:
      return "freeze";
    case OnTamper::kAlert:
      return "alert";
  }
  return "heal";
}

std::optional<State> parse_state(std::string_view name) {
  for (size_t i = 0; i < kStateNames.size(); ++i)
    if (kStateNames[i] == name) return static_cast<State>(i);
  return std::nullopt;
}

std::optional<Action> parse_action(std::string_view name) {
  for (size_t i = 0; i < kActionNames.size(); ++i)
    if (kActionNames[i] == name) return static_cast<Action>(i);
  return std::nullopt;
}

std::chrono::milliseconds backoff_delay(unsigned attempt, const RestartPolicy& p) {
  auto delay = p.base;
  // Doubling stops at the cap, so no attempt count can overflow the representation.
  for (unsigned i = 0; i < attempt && delay < p.cap; ++i) delay *= 2;
  return delay < p.cap ? delay : p.cap;
}

RestartTracker::Decision RestartTracker::record_failure(Clock::time_point now,
                                                        const RestartPolicy& p) {
  while (!failures_.empty() && now - failures_.front() >= p.window) failures_.pop_front();
  failures_.push_back(now);
  Decision d;
  if (failures_.size() >= p.max_failures) {
    d.crash_loop = true;
    return d;
  }
  d.delay = backoff_delay(static_cast<unsigned>(failures_.size() - 1), p);
  return d;
}

std::chrono::milliseconds check_offset(size_t index, size_t count,
                                       std::chrono::milliseconds interval) {
  if (count == 0 || interval.count() <= 0) return std::chrono::milliseconds{0};
  // index * interval / count without overflow for any sane interval (< 2^63 / count ms).
  auto slot = interval.count() / static_cast<int64_t>(count);
  auto rest = interval.count() % static_cast<int64_t>(count);
  auto i = static_cast<int64_t>(index % count);
  return std::chrono::milliseconds{i * slot + (i * rest) / static_cast<int64_t>(count)};
}

}  // namespace goodcop::supervisor
