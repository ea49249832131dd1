// The per-jail lifecycle: the whole transition table, backoff, crash loops, spreading.
#include <catch2/catch.hpp>
#include <set>
#include <tuple>
#include <vector>

#include "watchdog/daemon/lifecycle.h"

using namespace goodcop::supervisor;
using std::chrono::milliseconds;

namespace {

constexpr int kAny = -1;  // on_tamper or crash_loop does not matter for the row

struct Row {
  State from;
  Input in;
  int on_tamper;   // kAny or an OnTamper value
  int crash_loop;  // kAny, 0 or 1
  State to;
  Action action;
};

using S = State;
using I = Input;
using A = Action;
constexpr int kHeal = static_cast<int>(OnTamper::kHeal);
constexpr int kFreeze = static_cast<int>(OnTamper::kFreeze);
constexpr int kAlert = static_cast<int>(OnTamper::kAlert);

// The complete table: every (state, input) pair not listed here must be refused.
const std::vector<Row> kTable = {
    {S::kStarting, I::kStarted, kAny, kAny, S::kRunning, A::kNone},
    {S::kStarting, I::kStartFailed, kAny, 0, S::kStarting, A::kRestart},
    {S::kStarting, I::kStartFailed, kAny, 1, S::kFailed, A::kNone},
    {S::kStarting, I::kDied, kAny, 0, S::kStarting, A::kRestart},
    {S::kStarting, I::kDied, kAny, 1, S::kFailed, A::kNone},
    {S::kStarting, I::kRestoreRequest, kAny, kAny, S::kRestoring, A::kKill},
    {S::kRunning, I::kCheckDue, kAny, kAny, S::kChecking, A::kCheck},
    {S::kRunning, I::kDied, kAny, 0, S::kStarting, A::kRestart},
    {S::kRunning, I::kDied, kAny, 1, S::kFailed, A::kNone},
    {S::kRunning, I::kMaintainOn, kAny, kAny, S::kMaintenance, A::kNone},
    {S::kRunning, I::kFreezeRequest, kAny, kAny, S::kFrozen, A::kFreeze},
    {S::kRunning, I::kRestoreRequest, kAny, kAny, S::kRestoring, A::kKill},
    {S::kRunning, I::kStepFailed, kAny, kAny, S::kFailed, A::kNone},
    {S::kChecking, I::kCheckClean, kAny, kAny, S::kRunning, A::kNone},
    {S::kChecking, I::kCheckFailed, kAny, kAny, S::kRunning, A::kNone},
    {S::kChecking, I::kDeviation, kAny, kAny, S::kTampered, A::kFreeze},
    {S::kTampered, I::kFrozenOk, kAny, kAny, S::kPreserving, A::kWriteEvidence},
    {S::kTampered, I::kStepFailed, kAny, kAny, S::kFailed, A::kNone},
    {S::kPreserving, I::kEvidenceWritten, kHeal, kAny, S::kRestoring, A::kKill},
    {S::kPreserving, I::kEvidenceWritten, kFreeze, kAny, S::kFrozen, A::kNone},
    {S::kPreserving, I::kEvidenceWritten, kAlert, kAny, S::kRunning, A::kThaw},
    {S::kPreserving, I::kEvidenceFailed, kHeal, kAny, S::kFrozen, A::kNone},
    {S::kPreserving, I::kEvidenceFailed, kFreeze, kAny, S::kFrozen, A::kNone},
    {S::kPreserving, I::kEvidenceFailed, kAlert, kAny, S::kRunning, A::kThaw},
    {S::kRestoring, I::kKilled, kAny, kAny, S::kRestoring, A::kRestore},
    {S::kRestoring, I::kRestored, kAny, kAny, S::kStarting, A::kStart},
    {S::kRestoring, I::kStepFailed, kAny, kAny, S::kFailed, A::kNone},
    {S::kFrozen, I::kFrozenOk, kAny, kAny, S::kFrozen, A::kNone},
    {S::kFrozen, I::kThawRequest, kAny, kAny, S::kRunning, A::kThaw},
    {S::kFrozen, I::kRestoreRequest, kAny, kAny, S::kRestoring, A::kKill},
    {S::kFrozen, I::kStepFailed, kAny, kAny, S::kFailed, A::kNone},
    {S::kMaintenance, I::kStarted, kAny, kAny, S::kMaintenance, A::kNone},
    {S::kMaintenance, I::kDied, kAny, 0, S::kStarting, A::kRestart},
    {S::kMaintenance, I::kDied, kAny, 1, S::kFailed, A::kNone},
    {S::kMaintenance, I::kMaintainOff, kAny, kAny, S::kChecking, A::kCheck},
    {S::kMaintenance, I::kFreezeRequest, kAny, kAny, S::kFrozen, A::kFreeze},
    {S::kMaintenance, I::kRestoreRequest, kAny, kAny, S::kRestoring, A::kKill},
    {S::kFailed, I::kRestoreRequest, kAny, kAny, S::kRestoring, A::kKill},
};

constexpr int kStates = 10;
constexpr int kInputs = 19;

std::optional<Step> expected(State from, Input in, OnTamper t, bool crash) {
  if (in == I::kStop) {
    if (from == S::kStopped) return std::nullopt;
    return Step{S::kStopped, A::kStop};
  }
  for (const Row& r : kTable) {
    if (r.from != from || r.in != in) continue;
    if (r.on_tamper != kAny && r.on_tamper != static_cast<int>(t)) continue;
    if (r.crash_loop != kAny && r.crash_loop != static_cast<int>(crash)) continue;
    return Step{r.to, r.action};
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("lifecycle: the transition function is exactly the table", "[daemon][lifecycle]") {
  int checked = 0;
  for (int s = 0; s < kStates; ++s) {
    for (int i = 0; i < kInputs; ++i) {
      for (auto t : {OnTamper::kHeal, OnTamper::kFreeze, OnTamper::kAlert}) {
        for (bool crash : {false, true}) {
          auto from = static_cast<State>(s);
          auto in = static_cast<Input>(i);
          INFO(state_name(from) << " + " << input_name(in) << " (" << on_tamper_name(t)
                                << (crash ? ", crash loop" : "") << ")");
          CHECK(transition(from, in, Context{t, crash}) == expected(from, in, t, crash));
          ++checked;
        }
      }
    }
  }
  CHECK(checked == kStates * kInputs * 6);
}

TEST_CASE("lifecycle: a heal walks deviation → freeze → evidence → kill → restore → start",
          "[daemon][lifecycle]") {
  Context heal{OnTamper::kHeal, false};
  State s = S::kRunning;
  std::vector<std::pair<Input, Step>> story = {
      {I::kCheckDue, {S::kChecking, A::kCheck}},
      {I::kDeviation, {S::kTampered, A::kFreeze}},
      {I::kFrozenOk, {S::kPreserving, A::kWriteEvidence}},
      {I::kEvidenceWritten, {S::kRestoring, A::kKill}},
      {I::kKilled, {S::kRestoring, A::kRestore}},
      {I::kRestored, {S::kStarting, A::kStart}},
      {I::kStarted, {S::kRunning, A::kNone}},
  };
  for (const auto& [in, want] : story) {
    auto step = transition(s, in, heal);
    REQUIRE(step);
    CHECK(*step == want);
    s = step->to;
  }
}

TEST_CASE("lifecycle: evidence that cannot be written never leads to a kill",
          "[daemon][lifecycle]") {
  for (auto t : {OnTamper::kHeal, OnTamper::kFreeze, OnTamper::kAlert}) {
    auto step = transition(S::kPreserving, I::kEvidenceFailed, Context{t, false});
    REQUIRE(step);
    CHECK(step->action != A::kKill);
    CHECK(step->to != S::kRestoring);
  }
  // And nothing before evidence is written destroys the jail either.
  for (int i = 0; i < kInputs; ++i) {
    auto in = static_cast<Input>(i);
    if (in == I::kStop) continue;
    for (State s : {S::kTampered, S::kPreserving}) {
      auto step = transition(s, in, Context{});
      if (step && in != I::kEvidenceWritten) {
        CHECK(step->action != A::kKill);
        CHECK(step->action != A::kRestore);
      }
    }
  }
}

TEST_CASE("lifecycle: names round-trip and are unique", "[daemon][lifecycle]") {
  std::set<std::string_view> names;
  for (int s = 0; s < kStates; ++s) {
    auto st = static_cast<State>(s);
    CHECK(parse_state(state_name(st)) == st);
    names.insert(state_name(st));
  }
  CHECK(names.size() == kStates);
  for (int a = 0; a <= static_cast<int>(A::kStop); ++a)
    CHECK(parse_action(action_name(static_cast<Action>(a))) == static_cast<Action>(a));
  CHECK_FALSE(parse_state("Running"));
  CHECK_FALSE(parse_action(""));
  CHECK(state_name(S::kPreserving) == "preserving");
  CHECK(input_name(I::kDied) == "main process died");
}

TEST_CASE("lifecycle: backoff doubles from the base and stops at the cap", "[daemon][lifecycle]") {
  RestartPolicy p;
  p.base = milliseconds(1000);
  p.cap = milliseconds(30000);
  CHECK(backoff_delay(0, p) == milliseconds(1000));
  CHECK(backoff_delay(1, p) == milliseconds(2000));
  CHECK(backoff_delay(4, p) == milliseconds(16000));
  CHECK(backoff_delay(5, p) == milliseconds(30000));
  CHECK(backoff_delay(1000000, p) == milliseconds(30000));
  p.base = milliseconds(60000);  // a base above the cap is capped too
  CHECK(backoff_delay(0, p) == milliseconds(30000));
}

TEST_CASE("lifecycle: N failures within the window are a crash loop", "[daemon][lifecycle]") {
  RestartPolicy p;
  p.base = milliseconds(100);
  p.cap = milliseconds(1000);
  p.max_failures = 3;
  p.window = milliseconds(10000);
  RestartTracker t;
  auto t0 = RestartTracker::Clock::time_point{} + std::chrono::hours(1);
  auto d1 = t.record_failure(t0, p);
  CHECK_FALSE(d1.crash_loop);
  CHECK(d1.delay == milliseconds(100));
  auto d2 = t.record_failure(t0 + milliseconds(500), p);
  CHECK_FALSE(d2.crash_loop);
  CHECK(d2.delay == milliseconds(200));
  auto d3 = t.record_failure(t0 + milliseconds(900), p);
  CHECK(d3.crash_loop);

  // Failures spread wider than the window never add up to a loop, and the delay
  // goes back to the base once the old failures are forgotten.
  RestartTracker slow;
  for (int i = 0; i < 10; ++i) {
    auto d = slow.record_failure(t0 + milliseconds(10000) * i, p);
    CHECK_FALSE(d.crash_loop);
    CHECK(d.delay == milliseconds(100));
  }
  slow.reset();
  CHECK(slow.recent() == 0);
}

TEST_CASE("lifecycle: checks of many jails are spread over the interval", "[daemon][lifecycle]") {
  milliseconds iv(5000);
  CHECK(check_offset(0, 1, iv) == milliseconds(0));
  CHECK(check_offset(0, 50, iv) == milliseconds(0));
  CHECK(check_offset(1, 50, iv) == milliseconds(100));
  CHECK(check_offset(49, 50, iv) == milliseconds(4900));
  std::set<int64_t> seen;
  for (size_t i = 0; i < 7; ++i) {
    auto o = check_offset(i, 7, milliseconds(1000));
    CHECK(o >= milliseconds(0));
    CHECK(o < milliseconds(1000));
    seen.insert(o.count());
  }
  CHECK(seen.size() == 7);  // no two jails share a slot
  CHECK(check_offset(3, 0, iv) == milliseconds(0));
  CHECK(check_offset(3, 5, milliseconds(0)) == milliseconds(0));
}
