#include "watchdog/daemon/jail_task.h"

#include <fcntl.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <exception>

#include "base/error.h"
#include "base/log.h"
#include "base/parse.h"

namespace goodcop::supervisor {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock;
using System = std::chrono::system_clock;

namespace {

constexpr size_t kMaxQueued = 16;

// The verb an input came from, for "cannot <verb>" answers.
const char* verb_of(Input in) {
  switch (in) {
    case Input::kCheckDue:
      return "check";
    case Input::kFreezeRequest:
      return "freeze";
    case Input::kThawRequest:
      return "thaw";
    case Input::kRestoreRequest:
      return "restore";
    case Input::kMaintainOn:
      return "enter maintenance";
    case Input::kMaintainOff:
      return "leave maintenance";
    default:
      return "do that";
  }
}

}  // namespace

std::string incident_id(const std::string& jail, std::chrono::system_clock::time_point t) {
  std::string ts = format_time_utc(t);
  ts.erase(std::remove_if(ts.begin(), ts.end(), [](char c) { return c == '-' || c == ':'; }),
           ts.end());
  return jail + "-" + ts;
}

JailTask::JailTask(asio::io_context& io, asio::thread_pool& pool, JailConfig cfg,
                   std::unique_ptr<JailDriver> driver, const StateStore& store, EventLog& events,
                   milliseconds offset)
    : io_(io),
      pool_(pool),
      cfg_(std::move(cfg)),
      driver_(std::move(driver)),
      store_(store),
      events_(events),
      offset_(offset),
      timer_(io),
      exit_watch_(io),
      change_watch_(io) {}

JailTask::~JailTask() {
  // Handlers still queued on the loop check alive_ and do nothing.
  alive_.reset();
  boost::system::error_code ec;
  timer_.cancel();
  exit_watch_.close(ec);
}

void JailTask::begin(const std::optional<JailRecord>& rec, const std::string& why) {
  record_ = rec.value_or(JailRecord{});
  record_.jail = cfg_.name;
  Resume r = resume(rec);
  std::string reason = r.why;
  if (!why.empty())
    reason = r.state == State::kStarting && r.action == Action::kStart
                 ? why
                 : why + " (" + std::string(r.why) + ")";
  State from = rec ? rec->state : State::kStopped;
  if (r.state == State::kMaintenance && record_.maintain_until_ms > 0) {
    maintain_until_ = System::time_point(milliseconds(record_.maintain_until_ms));
  } else if (r.state == State::kMaintenance) {
    maintain_until_ = System::now() + cfg_.maintain_default;
  }
  state_ = r.state;
  action_ = r.action;
  persist();
  emit(from, state_, reason);
  changed();
  run(action_);
}

void JailTask::request(const Request& req, Reply reply) {
  if (state_ == State::kStopped && !stop_waiters_.empty()) {
    reply(Response::failure(3, "the daemon is stopping"));
    return;
  }
  if (queue_.size() >= kMaxQueued) {
    reply(Response::failure(3, "jail '" + cfg_.name + "' is busy: too many queued requests"));
    return;
  }
  Queued q{Input::kCheckDue, "", std::move(reply), req.duration, Op::kInput, {}};
  switch (req.verb) {
    case Verb::kCheck:
      q.input = Input::kCheckDue;
      q.reason = "check requested";
      break;
    case Verb::kFreeze:
      q.input = Input::kFreezeRequest;
      q.reason = "frozen by operator";
      break;
    case Verb::kThaw:
      q.input = Input::kThawRequest;
      q.reason = "thawed by operator";
      break;
    case Verb::kRestore:
      q.input = Input::kRestoreRequest;
      q.reason = "restore by operator";
      break;
    case Verb::kSnapshot:
      q.op = Op::kSnapshot;
      break;
    case Verb::kSeal:
      q.op = Op::kSeal;
      break;
    case Verb::kRollback:
      q.op = Op::kRollback;
      q.version = req.version;
      break;
    case Verb::kMaintain:
      q.input = req.on ? Input::kMaintainOn : Input::kMaintainOff;
      q.reason = req.on ? "maintenance on" : "maintenance off by operator";
      if (req.on && req.duration > cfg_.maintain_max) {
        q.reply(Response::failure(2, "maintain: window " + format_duration(req.duration) +
                                         " exceeds the maximum " +
                                         format_duration(cfg_.maintain_max)));
        return;
      }
      break;
    default:
      q.reply(Response::failure(3, std::string(verb_name(req.verb)) + ": not a jail request"));
      return;
  }
  queue_.push_back(std::move(q));
  settle();
}

void JailTask::stop(std::function<void()> done, const std::string& reason) {
  stop_waiters_.push_back(std::move(done));
  // Requests not started yet are answered now; the stop goes first.
  std::string refusal = reason == "daemon stopping"
                            ? std::string("the daemon is stopping")
                            : "jail '" + cfg_.name + "' is stopping (" + reason + ")";
  for (Queued& q : queue_)
    if (q.reply) q.reply(Response::failure(3, refusal));
  queue_.clear();
  queue_.push_back(Queued{Input::kStop, reason, {}, {}, Op::kInput, {}});
  settle();
}

void JailTask::inherit_counters(const JailStatus& s) {
  status_.checks = s.checks;
  status_.deviations = s.deviations;
  status_.heals = s.heals;
  status_.evidence_failures = s.evidence_failures;
}

JailStatus JailTask::status() const {
  JailStatus s = status_;
  s.name = cfg_.name;
  s.state = state_;
  s.address = driver_->address();
  s.last_incident = record_.evidence;
  s.restarts = record_.restarts;
  return s;
}

bool JailTask::feed(Input in, const std::string& reason) {
  Context ctx{cfg_.on_tamper, false};
  if ((in == Input::kDied || in == Input::kStartFailed) && transition(state_, in, ctx)) {
    auto d = tracker_.record_failure(Steady::now(), cfg_.restart);
    ctx.crash_loop = d.crash_loop;
    restart_delay_ = d.delay;
  }
  auto step = transition(state_, in, ctx);
  if (!step) {
    log_debug("jail '{}': input '{}' ignored in state '{}'", cfg_.name, input_name(in),
              state_name(state_));
    return false;
  }
  if (in == Input::kDeviation) {
    record_.dirty = true;
    ++status_.deviations;
  }
  if (in == Input::kRestored) {
    record_.dirty = false;
    ++status_.heals;
  }
  if (in == Input::kEvidenceFailed) ++status_.evidence_failures;
  if (in == Input::kRestoreRequest) tracker_.reset();
  if (step->to == State::kStarting && (in == Input::kRestored || step->action == Action::kRestart))
    ++record_.restarts;
  std::string why = reason;
  if (step->to == State::kStarting && step->action == Action::kRestart)
    why += ", restarting in " + format_duration(restart_delay_);
  if (step->to == State::kFailed && (in == Input::kDied || in == Input::kStartFailed))
    why += ", crash loop: " + std::to_string(tracker_.recent()) + " failures within " +
           format_duration(cfg_.restart.window);
  enter(*step, why);
  return true;
}

void JailTask::enter(Step step, const std::string& reason) {
  State from = state_;
  state_ = step.to;
  action_ = step.action;
  if (from != state_) cancel_timer();  // every timer belongs to the state that armed it
  if (state_ != State::kMaintenance) record_.maintain_until_ms = 0;
  // The routine running ⇄ checking round trip is neither persisted nor an event: resume
  // treats both alike, and two lines per jail per interval would drown the real story.
  bool routine = (from == State::kRunning && state_ == State::kChecking) ||
                 (from == State::kChecking && state_ == State::kRunning);
  if (!routine) {
    persist();
    if (from != state_) emit(from, state_, reason);
  }
  if (state_ == State::kFailed) last_error_ = reason;
  changed();
  run(action_);
}

void JailTask::run(Action a) {
  auto driver = driver_.get();
  switch (a) {
    case Action::kNone:
      settle();
      return;
    case Action::kRestart:
      disarm_exit_watch();
      arm_timer(Steady::now() + restart_delay_, [this] {
        action_ = Action::kStart;
        persist();
        run(Action::kStart);
      });
      settle();  // not busy while waiting: a stop or restore request may come in
      return;
    case Action::kStart:
      disarm_exit_watch();
      on_pool([driver] { driver->start(); },
              [this](const std::string& err) {
                if (!err.empty()) {
                  feed(Input::kStartFailed, "start failed: " + err);
                  return;
                }
                arm_exit_watch();
                arm_change_watch();
                feed(Input::kStarted, "started");
              });
      return;
    case Action::kAdopt: {
      auto found = std::make_shared<bool>(false);
      // A daemon that died during a snapshot left the jail frozen: thaw what we adopt.
      bool thaw = record_.snapshot && state_ != State::kFrozen;
      record_.snapshot = false;
      on_pool(
          [driver, found, thaw] {
            *found = driver->adopt();
            if (*found && thaw) driver->thaw();
          },
          [this, found](const std::string& err) {
            if (!err.empty() || !*found) {
              feed(Input::kDied,
                   err.empty() ? "not found after a daemon restart" : "adopt failed: " + err);
              return;
            }
            arm_exit_watch();
            arm_change_watch();
            feed(Input::kStarted, "adopted after a daemon restart");
          });
      return;
    }
    case Action::kCheck: {
      auto result = std::make_shared<CheckResult>();
      auto t0 = Steady::now();
      on_pool([driver, result] { *result = driver->check(); },
              [this, result, t0](const std::string& err) {
                auto took = std::chrono::duration_cast<milliseconds>(Steady::now() - t0);
                status_.last_check_time = System::now();
                status_.last_check = format_time_utc(status_.last_check_time);
                status_.last_check_ms = took.count();
                ++status_.checks;
                if (!err.empty()) {
                  for (auto& w : std::exchange(check_waiters_, {}))
                    w(Response::failure(3, "jail '" + cfg_.name + "': check: " + err));
                  log_warn("jail '{}': check: {}, retrying in {}", cfg_.name, err,
                           format_duration(cfg_.interval));
                  feed(Input::kCheckFailed, "check failed: " + err);
                  return;
                }
                on_check_result(*result, took);
              });
      return;
    }
    case Action::kFreeze:
      on_pool([driver] { driver->freeze(); },
              [this](const std::string& err) {
                if (!err.empty())
                  feed(Input::kStepFailed, "freeze failed: " + err);
                else
                  feed(Input::kFrozenOk, "frozen");
              });
      return;
    case Action::kThaw:
      on_pool([driver] { driver->thaw(); },
              [this](const std::string& err) {
                if (!err.empty()) {
                  feed(Input::kStepFailed, "thaw failed: " + err);
                  return;
                }
                next_check_ = Steady::now();  // whatever was frozen is checked again at once
                settle();
              });
      return;
    case Action::kWriteEvidence: {
      Incident inc{record_.incident, cfg_.name, "", System::now()};
      auto path = std::make_shared<std::string>();
      on_pool([driver, inc, path] { *path = driver->write_evidence(inc); },
              [this, path](const std::string& err) {
                if (!err.empty()) {
                  const char* next = cfg_.on_tamper == OnTamper::kAlert
                                         ? "jail thawed (on_tamper alert)"
                                         : "jail kept frozen, not restored";
                  feed(Input::kEvidenceFailed, "evidence failed: " + err + ", " + next);
                  return;
                }
                record_.evidence = *path;
                pending_evidence_ = *path;
                feed(Input::kEvidenceWritten, "evidence written");
              });
      return;
    }
    case Action::kKill:
      disarm_exit_watch();
      on_pool([driver] { driver->kill(); },
              [this](const std::string& err) {
                if (!err.empty())
                  feed(Input::kStepFailed, "kill failed: " + err);
                else
                  feed(Input::kKilled, "killed");
              });
      return;
    case Action::kRestore:
      on_pool([driver] { driver->restore(); },
              [this](const std::string& err) {
                if (!err.empty())
                  feed(Input::kStepFailed, "restore failed: " + err);
                else
                  feed(Input::kRestored, "restored from the golden archive");
              });
      return;
    case Action::kStop:
      disarm_exit_watch();
      on_pool([driver] { driver->stop(); },
              [this](const std::string& err) {
                if (!err.empty()) log_error("jail '{}': stop: {}", cfg_.name, err);
                settle();
              });
      return;
  }
}

void JailTask::on_check_result(const CheckResult& r, milliseconds took) {
  bool deviation = r.deviation;
  // Under `alert` the jail keeps its deviation: report each distinct one once.
  if (deviation && cfg_.on_tamper == OnTamper::kAlert && !r.fingerprint.empty() &&
      r.fingerprint == last_alert_fingerprint_) {
    log_debug("jail '{}': deviation already reported", cfg_.name);
    deviation = false;
  }
  nlohmann::json body = {{"jail", cfg_.name},
                         {"result", deviation ? "deviation" : "clean"},
                         {"summary", r.summary},
                         {"duration_ms", took.count()}};
  for (auto& w : std::exchange(check_waiters_, {})) w(Response::success(body));
  if (!deviation) {
    feed(Input::kCheckClean, "check clean");
    return;
  }
  if (cfg_.on_tamper == OnTamper::kAlert) last_alert_fingerprint_ = r.fingerprint;
  record_.incident = incident_id(cfg_.name, System::now());
  feed(Input::kDeviation, "deviation: " + (r.summary.empty() ? "tree changed" : r.summary));
}

void JailTask::settle() {
  if (busy_) return;
  // Inputs from outside an action (requests, a process death, stop) apply only between
  // actions, one at a time, so a driver call is never overlapped or cut short.
  while (!queue_.empty() && !busy_) {
    Queued q = std::move(queue_.front());
    queue_.pop_front();
    if (q.op != Op::kInput) {
      run_op(std::move(q));
      continue;
    }
    if (q.input == Input::kMaintainOn) {
      auto window = q.duration.count() > 0 ? q.duration : cfg_.maintain_default;
      maintain_until_ = System::now() + window;
      record_.maintain_until_ms =
          std::chrono::duration_cast<milliseconds>(maintain_until_.time_since_epoch()).count();
      q.reason += " for " + format_duration(window);
    }
    if (q.input == Input::kCheckDue && q.reply)
      check_waiters_.push_back(q.reply);
    else if (q.reply)
      settle_waiters_.push_back(q.reply);
    if (!feed(q.input, q.reason) && q.reply) {
      if (q.input == Input::kCheckDue)
        check_waiters_.pop_back();
      else
        settle_waiters_.pop_back();
      q.reply(Response::failure(3, "jail '" + cfg_.name + "' is in state '" +
                                       std::string(state_name(state_)) + "': cannot " +
                                       verb_of(q.input)));
    }
  }
  if (busy_) return;
  if (state_ == State::kRunning) {
    auto now = Steady::now();
    if (!next_check_) next_check_ = now + offset_;
    arm_timer(*next_check_, [this] {
      if (state_ != State::kRunning || busy_) return;
      // Fixed rate from the jail's offset, so checks of many jails stay spread out.
      auto now2 = Steady::now();
      while (*next_check_ <= now2) *next_check_ += cfg_.interval;
      feed(Input::kCheckDue, "check due");
    });
  } else if (state_ == State::kMaintenance) {
    auto left = maintain_until_ - System::now();
    arm_timer(Steady::now() + std::chrono::duration_cast<Steady::duration>(left),
              [this] { feed(Input::kMaintainOff, "maintenance window expired"); });
  }
  for (auto& w : std::exchange(settle_waiters_, {})) {
    if (state_ == State::kFailed)
      w(Response::failure(3, "jail '" + cfg_.name + "' failed: " + last_error_));
    else
      w(Response::success({{"jail", cfg_.name}, {"state", state_name(state_)}}));
  }
  if (state_ == State::kStopped)
    for (auto& w : std::exchange(stop_waiters_, {})) w();
}

void JailTask::changed() {
  if (on_change_) on_change_();
}

void JailTask::persist() {
  record_.state = state_;
  record_.action = action_;
  try {
    store_.save(record_);
  } catch (const std::exception& e) {
    // Healing goes on without a state file: losing resumability beats losing the heal.
    log_error("jail '{}': state: {}, a daemon crash now would restart the jail", cfg_.name,
              e.what());
  }
}

void JailTask::emit(State from, State to, const std::string& reason) {
  events_.write(Event{System::now(), cfg_.name, from, to, reason, pending_evidence_});
  pending_evidence_.clear();
}

void JailTask::arm_timer(Steady::time_point when, std::function<void()> fn) {
  uint64_t gen = ++timer_gen_;
  timer_.expires_at(when);
  std::weak_ptr<bool> alive = alive_;
  timer_.async_wait([this, gen, alive, fn = std::move(fn)](const boost::system::error_code& ec) {
    // operation_aborted means the state moved on (or we are stopping), not an error.
    if (alive.expired() || ec || gen != timer_gen_) return;
    fn();
  });
}

void JailTask::cancel_timer() {
  ++timer_gen_;
  timer_.cancel();
}

void JailTask::arm_exit_watch() {
  disarm_exit_watch();
  int fd = driver_->exit_fd();
  if (fd < 0) return;
  int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) {
    log_error("jail '{}': fcntl F_DUPFD_CLOEXEC: {}, main process deaths go unnoticed", cfg_.name,
              SysError("fcntl", "", errno).what());
    return;
  }
  exit_watch_.assign(dup);
  uint64_t gen = ++exit_gen_;
  std::weak_ptr<bool> alive = alive_;
  exit_watch_.async_wait(
      asio::posix::stream_descriptor::wait_read,
      [this, gen, alive](const boost::system::error_code& ec) {
        if (alive.expired() || ec || gen != exit_gen_) return;
        disarm_exit_watch();
        queue_.push_back(Queued{Input::kDied, "main process died", {}, {}, Op::kInput, {}});
        settle();
      });
}

void JailTask::disarm_exit_watch() {
  ++exit_gen_;
  boost::system::error_code ec;
  if (exit_watch_.is_open()) exit_watch_.close(ec);
  disarm_change_watch();  // the trigger lives as long as the jail's main process
}

void JailTask::arm_change_watch() {
  disarm_change_watch();
  int fd = driver_->change_fd();
  if (fd < 0) return;
  int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) {
    log_warn("jail '{}': fcntl F_DUPFD_CLOEXEC: {}, checks run on the interval only", cfg_.name,
             SysError("fcntl", "", errno).what());
    return;
  }
  change_watch_.assign(dup);
  wait_change(++change_gen_);
}

void JailTask::wait_change(uint64_t gen) {
  std::weak_ptr<bool> alive = alive_;
  change_watch_.async_wait(
      asio::posix::stream_descriptor::wait_read,
      [this, gen, alive](const boost::system::error_code& ec) {
        if (alive.expired() || ec || gen != change_gen_) return;
        // Draining is cheap (a read of the trigger's queue); a write brings the next check
        // forward to now, a little later when one is running (its result may predate it).
        bool written = false;
        try {
          written = driver_->changes_pending();
        } catch (const std::exception& e) {
          log_warn("jail '{}': change trigger: {}", cfg_.name, e.what());
        }
        if (written) {
          next_check_ = Steady::now();
          if (state_ == State::kRunning && !busy_) settle();
        }
        wait_change(gen);
      });
}

void JailTask::disarm_change_watch() {
  ++change_gen_;
  boost::system::error_code ec;
  if (change_watch_.is_open()) change_watch_.close(ec);
}

void JailTask::on_pool(std::function<void()> fn, std::function<void(const std::string&)> done) {
  busy_ = true;
  std::weak_ptr<bool> alive = alive_;
  asio::io_context& io = io_;
  // `driver_` is shared with the work item, so even a task destroyed mid-call (a test
  // that failed) leaves a valid driver behind; the completion checks `alive` first.
  // The work guard tells the loop that a completion is coming, so io_context::run()
  // does not return while the only pending work is on the pool.
  asio::post(pool_, [this, &io, alive, keep = driver_, work = asio::make_work_guard(io),
                     fn = std::move(fn), done = std::move(done)]() mutable {
    std::string err;
    try {
      fn();
    } catch (const std::exception& e) {
      err = *e.what() != '\0' ? e.what() : "unknown error";
    } catch (...) {
      err = "unknown error";
    }
    asio::post(io, [this, alive, done = std::move(done), err = std::move(err)] {
      if (alive.expired()) return;
      busy_ = false;
      done(err);
    });
  });
}

}  // namespace goodcop::supervisor
