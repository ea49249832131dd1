// The operator's requests that are not a lifecycle input: snapshot and seal leave the
// state as it is; rollback selects a golden version and then feeds a restore request.
// Each runs in the jail's turn (between actions), its driver calls on the work pool.
#include <boost/asio/post.hpp>

#include "base/log.h"
#include "watchdog/daemon/jail_task.h"

namespace goodcop::supervisor {

using System = std::chrono::system_clock;

Response JailTask::refuse(const char* verb) const {
  return Response::failure(3, "jail '" + cfg_.name + "' is in state '" +
                                  std::string(state_name(state_)) + "': cannot " + verb);
}

void JailTask::run_op(Queued q) {
  switch (q.op) {
    case Op::kSnapshot:
      run_snapshot(std::move(q.reply));
      return;
    case Op::kSeal:
      run_seal(std::move(q.reply));
      return;
    case Op::kRollback:
      run_rollback(q.version, std::move(q.reply));
      return;
    case Op::kInput:
      break;
  }
}

// freeze (unless frozen) → evidence → thaw (unless it was frozen before), as one work
// item: the jail's other calls wait (busy_), and the state does not change, so the
// lifecycle table is not involved. The record's `snapshot` flag covers a daemon crash
// between freeze and thaw (the adopting daemon thaws).
void JailTask::run_snapshot(Reply reply) {
  if (state_ != State::kRunning && state_ != State::kMaintenance && state_ != State::kFrozen) {
    reply(refuse("snapshot"));
    return;
  }
  bool was_frozen = state_ == State::kFrozen;
  Incident inc{incident_id(cfg_.name, System::now()), cfg_.name, "snapshot by operator",
               System::now(), "snapshot"};
  if (!was_frozen) {
    record_.snapshot = true;
    persist();
  }
  struct Outcome {
    std::string path, evidence_error, thaw_error;
  };
  auto out = std::make_shared<Outcome>();
  auto driver = driver_.get();
  on_pool(
      [driver, inc, was_frozen, out] {
        if (!was_frozen) driver->freeze();
        try {
          out->path = driver->write_evidence(inc);
        } catch (const std::exception& e) {
          out->evidence_error = e.what();
        }
        if (was_frozen) return;
        try {
          driver->thaw();
        } catch (const std::exception& e) {
          out->thaw_error = e.what();
        }
      },
      [this, out, was_frozen, reply = std::move(reply)](const std::string& err) {
        if (record_.snapshot) {
          record_.snapshot = false;
          persist();
        }
        std::string why;
        if (!err.empty())
          why = "freeze failed: " + err;
        else if (!out->evidence_error.empty())
          why = out->evidence_error;
        if (!out->thaw_error.empty())
          why += (why.empty() ? "" : ", ") + std::string("thaw failed: ") + out->thaw_error;
        if (why.empty()) {
          pending_evidence_ = out->path;
          emit(state_, state_, "snapshot written");
          reply(Response::success({{"jail", cfg_.name}, {"evidence", out->path}}));
        } else {
          if (!out->evidence_error.empty()) ++status_.evidence_failures;
          std::string next = was_frozen || !out->thaw_error.empty() ? "" : ", jail thawed";
          log_error("jail '{}': snapshot: {}{}", cfg_.name, why, next);
          emit(state_, state_, "snapshot failed: " + why + next);
          reply(Response::failure(3, "jail '" + cfg_.name + "': snapshot: " + why + next));
          // A jail left frozen behind a running state would never be checked again.
          if (!out->thaw_error.empty() && state_ == State::kRunning) {
            changed();
            feed(Input::kStepFailed, "snapshot: thaw failed: " + out->thaw_error);
            return;
          }
        }
        changed();
        settle();
      });
}

// The new golden version is the tree as it is now: only where the operator owns the
// tree (running, maintenance), never while it is suspect (heal states, frozen, failed).
void JailTask::run_seal(Reply reply) {
  if (state_ != State::kRunning && state_ != State::kMaintenance) {
    reply(refuse("seal"));
    return;
  }
  auto line = std::make_shared<std::string>();
  auto driver = driver_.get();
  on_pool([driver, line] { *line = driver->seal(); },
          [this, line, reply = std::move(reply)](const std::string& err) {
            if (!err.empty()) {
              log_error("jail '{}': seal: {}", cfg_.name, err);
              reply(Response::failure(3, "jail '" + cfg_.name + "': seal: " + err));
            } else {
              last_alert_fingerprint_.clear();  // deviations are counted from the new golden
              emit(state_, state_, "sealed: " + *line);
              reply(Response::success({{"jail", cfg_.name}, {"result", *line}}));
            }
            changed();
            settle();
          });
}

// select_golden, then exactly the path of `goodcop restore` (kill → restore → start).
void JailTask::run_rollback(const std::string& version, Reply reply) {
  Context ctx{cfg_.on_tamper, false};
  if (!transition(state_, Input::kRestoreRequest, ctx)) {
    reply(refuse("roll back"));
    return;
  }
  auto line = std::make_shared<std::string>();
  auto driver = driver_.get();
  on_pool([driver, line, version] { *line = driver->select_golden(version); },
          [this, line, reply = std::move(reply)](const std::string& err) {
            if (!err.empty()) {
              log_error("jail '{}': rollback: {}", cfg_.name, err);
              reply(Response::failure(3, "jail '" + cfg_.name + "': rollback: " + err));
              settle();
              return;
            }
            settle_waiters_.push_back([reply, line = *line](Response r) {
              if (r.ok) r.body["result"] = line;
              reply(std::move(r));
            });
            if (!feed(Input::kRestoreRequest, "rollback by operator: " + *line)) {
              settle_waiters_.pop_back();
              reply(refuse("roll back"));
              settle();
            }
          });
}

}  // namespace goodcop::supervisor
