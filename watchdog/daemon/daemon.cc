#include "watchdog/daemon/daemon.h"

#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <thread>

#include "base/log.h"
#include "watchdog/daemon/control_server.h"

namespace goodcop::supervisor {

namespace asio = boost::asio;

int run_daemon(const DaemonOptions& opt, PolicySource source) {
  asio::io_context io(1);
  // The lock comes first: a second daemon must refuse before it touches any state file.
  std::function<void(const Request&, Reply)> handler;
  ControlServer server(
      io, opt.socket, [&handler](const Request& r, Reply reply) { handler(r, std::move(reply)); },
      opt.control_uid);
  server.open();

  StateStore store(opt.state_dir);
  EventLog events(opt.event_log.empty() ? opt.state_dir + "/events.log" : opt.event_log);
  unsigned threads = opt.pool_threads;
  if (threads == 0) threads = std::max(2u, std::thread::hardware_concurrency());
  asio::thread_pool pool(threads);
  Supervisor::Options so;
  so.max_execs = opt.max_execs;
  so.metrics_path = opt.metrics.empty() ? opt.state_dir + "/metrics.prom" : opt.metrics;
  Supervisor sup(io, pool, store, events, std::move(source), so);
  handler = [&sup](const Request& r, Reply reply) { sup.handle(r, std::move(reply)); };

  asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  std::function<void()> wait_signal;
  wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;  // operation_aborted: we are stopping
      if (sig == SIGHUP) {
        sup.reload([](const ReloadResult& r) {
          if (!r.error.empty()) {
            log_error("{}, jails keep their current policies", r.error);
            return;
          }
          for (const auto& p : r.problems) log_error("reload: {}", p);
          log_info("{}", r.summary());
        });
        wait_signal();
        return;
      }
      if (sup.stopping()) {
        wait_signal();
        return;
      }
      log_info("{}: stopping every jail", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      // Keep listening: a second TERM while jails stop is harmless, not a crash.
      wait_signal();
      sup.stop_all([&] {
        server.close();
        signals.cancel();
        log_info("daemon stopped");
      });
    });
  };
  wait_signal();

  try {
    sup.start();
  } catch (...) {
    server.close();
    throw;
  }
  log_info("daemon ready: control socket '{}'", opt.socket);
  io.run();
  pool.join();
  return 0;
}

}  // namespace goodcop::supervisor
