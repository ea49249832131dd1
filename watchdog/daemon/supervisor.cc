#include "watchdog/daemon/supervisor.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <optional>

#include "base/error.h"
#include "base/log.h"

namespace goodcop::supervisor {

namespace asio = boost::asio;

std::string ReloadResult::summary() const {
  return "reloaded: " + std::to_string(added) + " added, " + std::to_string(restarted) +
         " restarted, " + std::to_string(removed) + " removed, " + std::to_string(unchanged) +
         " unchanged";
}

Supervisor::Supervisor(asio::io_context& io, asio::thread_pool& pool, const StateStore& store,
                       EventLog& events, PolicySource source)
    : Supervisor(io, pool, store, events, std::move(source), Options{}) {}

Supervisor::Supervisor(asio::io_context& io, asio::thread_pool& pool, const StateStore& store,
                       EventLog& events, PolicySource source, Options opt)
    : io_(io), pool_(pool), store_(store), events_(events), source_(std::move(source)), opt_(opt) {
  if (!opt_.metrics_path.empty())
    metrics_ = std::make_unique<MetricsWriter>(
        io_, opt_.metrics_path, [this] { return status(); }, opt_.metrics_interval);
}

Supervisor::~Supervisor() {
  alive_.reset();
  for (auto& [id, t] : execs_)
    if (t.joinable()) t.join();
}

namespace {

// The desired jails by name; invalid names and duplicates become problems.
std::map<std::string, DesiredJail> index_jails(std::vector<DesiredJail>& jails,
                                               std::vector<std::string>& problems) {
  std::map<std::string, DesiredJail> out;
  for (DesiredJail& d : jails) {
    const std::string& name = d.cfg.name;
    if (!valid_jail_name(name)) {
      problems.push_back(d.file + ": invalid jail name '" + name + "'");
      continue;
    }
    auto it = out.find(name);
    if (it != out.end()) {
      problems.push_back(d.file + ": jail '" + name + "' is already defined in '" +
                         it->second.file + "', file ignored");
      continue;
    }
    if (d.cfg.interval.count() <= 0) {
      problems.push_back(d.file + ": jail '" + name + "': interval must be positive");
      continue;
    }
    out.emplace(name, std::move(d));
  }
  return out;
}

}  // namespace

void Supervisor::add_jail(DesiredJail d, size_t index, size_t count, const std::string& reason,
                          std::vector<std::string>& problems) {
  std::string name = d.cfg.name;
  std::unique_ptr<JailDriver> driver;
  try {
    driver = d.make_driver ? d.make_driver() : nullptr;
    if (!driver) throw Error("no jail driver");
  } catch (const std::exception& e) {
    // One jail that cannot be set up must not keep the others down.
    std::string why = "jail '" + name + "': " + e.what() + ", not started";
    log_error("{}", why);
    problems.push_back(d.file + ": " + why);
    return;
  }
  // Jails are spread by their rank among all jails, each over its own interval: with
  // 50 jails at 5 s, one check starts every 100 ms instead of 50 at once.
  auto offset = check_offset(index, count, d.cfg.interval);
  auto task = std::make_unique<JailTask>(io_, pool_, std::move(d.cfg), std::move(driver), store_,
                                         events_, offset);
  std::optional<JailRecord> rec;
  try {
    rec = store_.load(name);
  } catch (const std::exception& e) {
    // A corrupt state file must not keep the jail down: start it from its golden tree.
    log_error("jail '{}': {}, starting from scratch", name, e.what());
    JailRecord dirty;
    dirty.jail = name;
    dirty.state = State::kStopped;
    dirty.dirty = true;
    rec = dirty;
  }
  JailTask* t = task.get();
  if (metrics_) t->on_change([m = metrics_.get()] { m->touch(); });
  jails_[name] = Entry{std::move(task), std::move(d.file), std::move(d.fingerprint), false};
  t->begin(rec, reason);
}

void Supervisor::start() {
  PolicySet set = source_ ? source_() : PolicySet{};
  std::vector<std::string> problems = set.problems;
  auto want = index_jails(set.jails, problems);
  size_t index = 0;
  for (auto& [name, d] : want) add_jail(std::move(d), index++, want.size(), "", problems);
  for (const auto& p : problems) log_error("{}", p);
}

JailTask* Supervisor::find(const std::string& name) {
  auto it = jails_.find(name);
  return it == jails_.end() ? nullptr : it->second.task.get();
}

void Supervisor::reload(std::function<void(const ReloadResult&)> done) {
  if (stopping_) {
    ReloadResult r;
    r.error = "the daemon is stopping";
    done(r);
    return;
  }
  reloads_.push_back(std::move(done));
  if (!reloading_) next_reload();
}

void Supervisor::next_reload() {
  if (reloads_.empty() || stopping_) {
    reloading_ = false;
    for (auto& done : std::exchange(reloads_, {})) {
      ReloadResult r;
      r.error = "the daemon is stopping";
      done(r);
    }
    for (auto& w : std::exchange(idle_waiters_, {})) w();
    return;
  }
  reloading_ = true;
  auto done = std::move(reloads_.front());
  reloads_.erase(reloads_.begin());
  run_reload([this, done = std::move(done)](const ReloadResult& r) {
    done(r);
    next_reload();
  });
}

void Supervisor::run_reload(std::function<void(const ReloadResult&)> done) {
  auto res = std::make_shared<ReloadResult>();
  PolicySet set;
  try {
    set = source_ ? source_() : PolicySet{};
  } catch (const std::exception& e) {
    res->error = std::string("reload: ") + e.what();
    done(*res);
    return;
  }
  res->problems = set.problems;
  auto want = index_jails(set.jails, res->problems);
  // The rank of each jail in the new set, for its check offset.
  std::map<std::string, size_t> rank;
  for (const auto& [name, d] : want) rank.emplace(name, rank.size());
  size_t count = want.size();

  // `pending` counts the stops still running plus one for this function, so `done`
  // runs once, after the last of them (or right here when nothing had to stop).
  auto pending = std::make_shared<size_t>(1);
  auto finish = std::make_shared<std::function<void()>>([res, done = std::move(done), pending] {
    if (--*pending == 0) done(*res);
  });
  std::weak_ptr<bool> alive = alive_;

  // The jail stops (after a heal in progress: the stop waits for it), and only then is
  // its old driver destroyed and, for a changed policy, the new one made and started.
  auto retire = [&](Entry& e, const std::string& name, std::optional<DesiredJail> next) {
    e.retiring = true;
    ++*pending;
    std::string reason = next ? "reload: policy changed, restarting" : "reload: policy removed";
    auto carry = std::make_shared<std::optional<DesiredJail>>(std::move(next));
    size_t r = carry->has_value() ? rank[name] : 0;
    e.task->stop(
        [this, alive, name, carry, r, count, res, finish] {
          // Not from inside the task's own callback: destroy it from the loop.
          asio::post(io_, [this, alive, name, carry, r, count, res, finish] {
            if (alive.expired()) return;
            auto it = jails_.find(name);
            JailStatus counters;
            if (it != jails_.end()) {
              counters = it->second.task->status();
              jails_.erase(it);  // the old driver goes with its task, its stop completed
              if (metrics_) metrics_->touch();
            }
            if (!carry->has_value()) {
              try {
                store_.remove(name);
              } catch (const std::exception& ex) {
                log_error("jail '{}': {}", name, ex.what());
              }
            } else if (!stopping_) {
              add_jail(std::move(**carry), r, count, "reload: started with the changed policy",
                       res->problems);
              if (JailTask* t = find(name)) t->inherit_counters(counters);
            }
            (*finish)();
          });
        },
        reason);
  };

  for (auto& [name, e] : jails_) {
    auto it = want.find(name);
    if (set.broken_files.count(e.file)) {
      // A broken policy file: the running jail keeps the policy it has.
      ++res->unchanged;
      if (it != want.end()) want.erase(it);
      continue;
    }
    if (it == want.end()) {
      ++res->removed;
      retire(e, name, std::nullopt);
      continue;
    }
    if (it->second.fingerprint == e.fingerprint) {
      ++res->unchanged;
      e.file = it->second.file;  // a renamed file with the same policy is no change
      want.erase(it);
      continue;
    }
    ++res->restarted;
    retire(e, name, std::move(it->second));
    want.erase(it);
  }
  for (auto& [name, d] : want) {
    if (jails_.count(name)) continue;  // defined in a broken file's jail's place: keep that
    size_t before = res->problems.size();
    add_jail(std::move(d), rank[name], count, "reload: policy added", res->problems);
    if (res->problems.size() == before) ++res->added;
  }
  (*finish)();
}

void Supervisor::handle(const Request& req, Reply reply) {
  switch (req.verb) {
    case Verb::kStatus:
      reply(Response::success(status_json(status())));
      return;
    case Verb::kReload:
      reload([reply](const ReloadResult& r) {
        if (!r.error.empty()) {
          reply(Response::failure(3, r.error));
          return;
        }
        reply(Response::success({{"result", r.summary()}, {"problems", r.problems}}));
      });
      return;
    default:
      break;
  }
  if (stopping_) {
    reply(Response::failure(3, "the daemon is stopping"));
    return;
  }
  auto it = jails_.find(req.jail);
  if (it == jails_.end()) {
    reply(Response::failure(3, "no jail '" + req.jail + "'"));
    return;
  }
  if (it->second.retiring) {
    reply(Response::failure(3, "jail '" + req.jail + "' is being reloaded, try again"));
    return;
  }
  if (req.verb == Verb::kExec) {
    start_exec(req, std::move(reply));
    return;
  }
  it->second.task->request(req, std::move(reply));
}

// An exec may last as long as an operator's shell: it gets a thread of its own, never a
// pool thread (it would starve checks and heals) and never the jail's task (it would
// block the jail's own calls). The driver is shared, so a reload or stop that replaces
// the task leaves the exec a valid driver; the stop kills the jail, which ends the exec.
void Supervisor::start_exec(const Request& req, Reply reply) {
  JailTask* t = find(req.jail);
  State st = t->state();
  if (st != State::kRunning && st != State::kChecking && st != State::kMaintenance) {
    reply(Response::failure(3, "jail '" + req.jail + "' is in state '" +
                                   std::string(state_name(st)) + "': cannot exec"));
    return;
  }
  if (!req.fds || req.fds->size() != 3) {
    reply(Response::failure(2, "exec: the request must carry stdin, stdout and stderr"));
    return;
  }
  if (execs_.size() >= opt_.max_execs) {
    reply(Response::failure(3, "exec: " + std::to_string(opt_.max_execs) +
                                   " commands are running already (the most this daemon "
                                   "allows), try again later"));
    return;
  }
  uint64_t id = ++exec_seq_;
  std::weak_ptr<bool> alive = alive_;
  auto work = asio::make_work_guard(io_);
  std::thread th([this, id, alive, jail = req.jail, driver = t->driver(), argv = req.argv,
                  fds = req.fds, reply = std::move(reply), work = std::move(work)]() mutable {
    int code = 0;
    std::string err;
    try {
      ExecIo io;
      for (int i = 0; i < 3; ++i) io.fds[i] = (*fds)[static_cast<size_t>(i)].get();
      code = driver->exec(argv, io);
    } catch (const std::exception& e) {
      err = *e.what() != '\0' ? e.what() : "unknown error";
    } catch (...) {
      err = "unknown error";
    }
    // The client's descriptors are closed here, before the answer: nothing of the
    // client's terminal stays open in the daemon.
    fds.reset();
    driver.reset();
    asio::post(work.get_executor(),
               [this, id, alive, jail, code, err = std::move(err), reply = std::move(reply)] {
                 if (alive.expired()) return;
                 auto it = execs_.find(id);
                 if (it != execs_.end()) {
                   it->second.join();  // it has posted this as its last act: returns at once
                   execs_.erase(it);
                 }
                 if (!err.empty())
                   reply(Response::failure(3, "jail '" + jail + "': exec: " + err));
                 else
                   reply(Response::success({{"jail", jail}, {"status", code}}));
               });
  });
  execs_.emplace(id, std::move(th));
}

void Supervisor::stop_all(std::function<void()> done) {
  stopping_ = true;
  auto left = std::make_shared<size_t>(jails_.size());
  auto finish = std::make_shared<std::function<void()>>([this, done = std::move(done)] {
    if (metrics_) metrics_->flush();  // the stopped states, not the last rate-limited ones
    done();
  });
  if (*left == 0) {
    (*finish)();
    return;
  }
  for (auto& [name, e] : jails_) {
    e.task->stop([left, finish] {
      if (--*left == 0) (*finish)();
    });
  }
}

std::vector<JailStatus> Supervisor::status() const {
  std::vector<JailStatus> out;
  for (const auto& [name, e] : jails_) out.push_back(e.task->status());
  return out;
}

nlohmann::json status_json(const std::vector<JailStatus>& jails) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& s : jails) {
    arr.push_back({{"jail", s.name},
                   {"state", state_name(s.state)},
                   {"address", s.address},
                   {"last_check", s.last_check},
                   {"last_check_ms", s.last_check_ms},
                   {"last_incident", s.last_incident},
                   {"restarts", s.restarts}});
  }
  return {{"jails", arr}};
}

}  // namespace goodcop::supervisor
