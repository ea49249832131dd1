#include "watchdog/daemon/supervisor.h"

#include "base/error.h"
#include "base/log.h"

namespace goodcop::supervisor {

Supervisor::Supervisor(boost::asio::io_context& io, boost::asio::thread_pool& pool,
                       const StateStore& store, EventLog& events, ReloadHook reload)
    : io_(io), pool_(pool), store_(store), events_(events), reload_(std::move(reload)) {}

void Supervisor::add(JailConfig cfg, std::unique_ptr<JailDriver> driver) {
  if (!valid_jail_name(cfg.name)) throw Error("invalid jail name '" + cfg.name + "'");
  if (pending_.count(cfg.name) || tasks_.count(cfg.name))
    throw Error("jail '" + cfg.name + "' is defined twice");
  if (cfg.interval.count() <= 0) throw Error("jail '" + cfg.name + "': interval must be positive");
  std::string name = cfg.name;
  pending_.emplace(name, std::make_pair(std::move(cfg), std::move(driver)));
}

void Supervisor::start() {
  // Jails are spread by their rank among all jails, each over its own interval: with
  // 50 jails at 5 s, one check starts every 100 ms instead of 50 at once.
  size_t count = pending_.size(), index = 0;
  for (auto& [name, p] : pending_) {
    auto offset = check_offset(index++, count, p.first.interval);
    auto task = std::make_unique<JailTask>(io_, pool_, std::move(p.first), std::move(p.second),
                                           store_, events_, offset);
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
    tasks_.emplace(name, std::move(task));
    t->begin(rec);
  }
  pending_.clear();
}

JailTask* Supervisor::find(const std::string& name) {
  auto it = tasks_.find(name);
  return it == tasks_.end() ? nullptr : it->second.get();
}

std::string Supervisor::reload() {
  if (!reload_) return "reload: no policy source";
  return reload_();
}

void Supervisor::handle(const Request& req, Reply reply) {
  switch (req.verb) {
    case Verb::kStatus:
      reply(Response::success(status_json(status())));
      return;
    case Verb::kReload: {
      std::string err = reload();
      if (err.empty())
        reply(Response::success());
      else
        reply(Response::failure(3, err));
      return;
    }
    // These need the backups and kernel layers behind the driver (issue 6, next step).
    case Verb::kSnapshot:
    case Verb::kExec:
    case Verb::kSeal:
    case Verb::kRollback:
      reply(Response::failure(
          3, std::string(verb_name(req.verb)) + ": not yet supported by this daemon"));
      return;
    default:
      break;
  }
  if (stopping_) {
    reply(Response::failure(3, "the daemon is stopping"));
    return;
  }
  JailTask* t = find(req.jail);
  if (t == nullptr) {
    reply(Response::failure(3, "no jail '" + req.jail + "'"));
    return;
  }
  t->request(req, std::move(reply));
}

void Supervisor::stop_all(std::function<void()> done) {
  stopping_ = true;
  auto left = std::make_shared<size_t>(tasks_.size());
  auto finish = std::make_shared<std::function<void()>>(std::move(done));
  if (*left == 0) {
    (*finish)();
    return;
  }
  for (auto& [name, t] : tasks_) {
    t->stop([left, finish] {
      if (--*left == 0) (*finish)();
    });
  }
}

std::vector<JailStatus> Supervisor::status() const {
  std::vector<JailStatus> out;
  for (const auto& [name, t] : tasks_) out.push_back(t->status());
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
