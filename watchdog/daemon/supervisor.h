#pragma once
// Supervisor: the set of supervised jails on one event loop. It owns one JailTask per
// jail, spreads their checks over their intervals, answers control requests and
// stops every jail cleanly. main() (or a test) wires the loop, pool, store and log in.

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "watchdog/daemon/jail_task.h"

namespace goodcop::supervisor {

class Supervisor {
 public:
  // Re-reads the policies (SIGHUP, `goodcop reload`); returns "" or the reason it failed.
  using ReloadHook = std::function<std::string()>;

  Supervisor(boost::asio::io_context& io, boost::asio::thread_pool& pool, const StateStore& store,
             EventLog& events, ReloadHook reload);
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Adds a jail before start(); throws Error on an invalid or duplicate name.
  void add(JailConfig cfg, std::unique_ptr<JailDriver> driver);
  // Resumes every jail from its state file (or starts it) with spread check offsets.
  void start();
  // Answers one control request (status, reload and the jail verbs).
  void handle(const Request& req, Reply reply);
  // Re-reads the policies through the hook; "" or why it failed.
  std::string reload();
  // Stops every jail; `done` runs on the loop once all are stopped.
  void stop_all(std::function<void()> done);
  bool stopping() const { return stopping_; }

  // The status of every jail, sorted by name.
  std::vector<JailStatus> status() const;
  JailTask* find(const std::string& name);

 private:
  boost::asio::io_context& io_;
  boost::asio::thread_pool& pool_;
  const StateStore& store_;
  EventLog& events_;
  ReloadHook reload_;
  std::map<std::string, std::unique_ptr<JailTask>> tasks_;
  std::map<std::string, std::pair<JailConfig, std::unique_ptr<JailDriver>>> pending_;
  bool stopping_ = false;
};

// The status as the JSON body of a response: {"jails":[{...}, ...]}.
nlohmann::json status_json(const std::vector<JailStatus>& jails);

}  // namespace goodcop::supervisor
