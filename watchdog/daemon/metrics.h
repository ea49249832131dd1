#pragma once
// Prometheus metrics as a node_exporter textfile (<state>/metrics.prom): per jail its
// state and counters. Rewritten after state changes and checks, at most once per
// `min_interval` (50 jails checked every 5 s would otherwise rewrite it 10 times a
// second), atomically: a temporary file renamed over the old one, so a scrape never
// sees a torn file. Not fsynced: metrics are rebuilt by the next write after a crash,
// and an fsync per second on the loop thread would stall it on a busy disk.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "watchdog/daemon/jail_task.h"

namespace goodcop::supervisor {

// The metrics of these jails in the Prometheus text exposition format (version 0.0.4).
std::string render_metrics(const std::vector<JailStatus>& jails);

// Keeps one metrics file up to date on the loop.
class MetricsWriter {
 public:
  using Collect = std::function<std::vector<JailStatus>()>;
  MetricsWriter(boost::asio::io_context& io, std::string path, Collect collect,
                std::chrono::milliseconds min_interval = std::chrono::seconds(1));
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;
  ~MetricsWriter();

  // Something changed: writes now, or once the interval since the last write is over.
  void touch();
  // Writes now (the daemon is stopping: the last states must be on disk).
  void flush();
  uint64_t writes() const { return writes_; }

 private:
  void write();

  std::string path_;
  Collect collect_;
  std::chrono::milliseconds min_interval_;
  boost::asio::steady_timer timer_;
  bool armed_ = false;
  std::chrono::steady_clock::time_point last_{};
  uint64_t writes_ = 0;
  bool failed_ = false;  // the failure is logged once, not every second
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace goodcop::supervisor
