#include "watchdog/daemon/metrics.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "base/error.h"
#include "base/fd.h"
#include "base/log.h"

namespace goodcop::supervisor {

namespace {

constexpr State kAllStates[] = {
    State::kStarting,  State::kRunning, State::kChecking,    State::kTampered, State::kPreserving,
    State::kRestoring, State::kFrozen,  State::kMaintenance, State::kFailed,   State::kStopped};

// Label values in the text format escape backslash, double quote and newline.
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string seconds(double s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", s);
  return buf;
}

void family(std::string& out, const char* name, const char* type, const char* help) {
  out += std::string("# HELP ") + name + " " + help + "\n";
  out += std::string("# TYPE ") + name + " " + type + "\n";
}

}  // namespace

std::string render_metrics(const std::vector<JailStatus>& jails) {
  std::string out;
  // Every state of every jail, 1 for the current one: a state left shows as 0, not as
  // a series that vanished (which alerting rules cannot tell from a scrape gap).
  family(out, "goodcop_jail_state", "gauge", "1 for the state each jail is in, 0 for the others.");
  for (const auto& j : jails)
    for (State s : kAllStates)
      out += "goodcop_jail_state{jail=\"" + label(j.name) + "\",state=\"" +
             std::string(state_name(s)) + "\"} " + (s == j.state ? "1" : "0") + "\n";
  struct Counter {
    const char* name;
    const char* help;
    uint64_t JailStatus::*field;
  };
  const Counter counters[] = {
      {"goodcop_checks_total", "Checks completed since the daemon started.", &JailStatus::checks},
      {"goodcop_deviations_total", "Deviations found since the daemon started.",
       &JailStatus::deviations},
      {"goodcop_heals_total",
       "Restores from the golden archive completed since the daemon started.", &JailStatus::heals},
      {"goodcop_evidence_failures_total",
       "Evidence bundles that could not be written since the daemon started.",
       &JailStatus::evidence_failures},
  };
  for (const auto& c : counters) {
    family(out, c.name, "counter", c.help);
    for (const auto& j : jails)
      out += std::string(c.name) + "{jail=\"" + label(j.name) + "\"} " +
             std::to_string(j.*c.field) + "\n";
  }
  family(out, "goodcop_restarts_total", "counter",
         "Restarts of the jail (after a heal or a crash), kept across daemon restarts.");
  for (const auto& j : jails)
    out += "goodcop_restarts_total{jail=\"" + label(j.name) + "\"} " + std::to_string(j.restarts) +
           "\n";
  family(out, "goodcop_last_check_seconds", "gauge", "How long the last check took.");
  for (const auto& j : jails)
    if (j.last_check_ms >= 0)
      out += "goodcop_last_check_seconds{jail=\"" + label(j.name) + "\"} " +
             seconds(static_cast<double>(j.last_check_ms) / 1000.0) + "\n";
  family(out, "goodcop_last_check_timestamp_seconds", "gauge",
         "When the last check ended (Unix time): alert when it stops moving.");
  for (const auto& j : jails) {
    if (j.last_check_ms < 0) continue;
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(j.last_check_time.time_since_epoch())
            .count();
    out += "goodcop_last_check_timestamp_seconds{jail=\"" + label(j.name) + "\"} " +
           seconds(static_cast<double>(ms) / 1000.0) + "\n";
  }
  return out;
}

MetricsWriter::MetricsWriter(boost::asio::io_context& io, std::string path, Collect collect,
                             std::chrono::milliseconds min_interval)
    : path_(std::move(path)),
      collect_(std::move(collect)),
      min_interval_(min_interval),
      timer_(io) {}

MetricsWriter::~MetricsWriter() {
  alive_.reset();
  timer_.cancel();
}

void MetricsWriter::touch() {
  if (armed_) return;  // the write already scheduled will show this change too
  auto now = std::chrono::steady_clock::now();
  if (writes_ == 0 || now - last_ >= min_interval_) {
    write();
    return;
  }
  armed_ = true;
  timer_.expires_at(last_ + min_interval_);
  std::weak_ptr<bool> alive = alive_;
  timer_.async_wait([this, alive](const boost::system::error_code& ec) {
    if (alive.expired() || ec) return;
    armed_ = false;
    write();
  });
}

void MetricsWriter::flush() {
  if (armed_) {
    armed_ = false;
    timer_.cancel();
  }
  write();
}

void MetricsWriter::write() {
  last_ = std::chrono::steady_clock::now();
  ++writes_;
  std::string tmp = path_ + ".tmp";  // not *.prom: node_exporter never reads it
  try {
    std::string text = render_metrics(collect_());
    {
      UniqueFd fd = open_fd(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
      write_all(fd.get(), text, tmp);
    }
    check(::rename(tmp.c_str(), path_.c_str()), "rename", path_);
    if (failed_) log_info("metrics: '{}' written again", path_);
    failed_ = false;
  } catch (const std::exception& e) {
    ::unlink(tmp.c_str());
    if (!failed_) log_warn("metrics: {}, retrying on the next change", e.what());
    failed_ = true;
  }
}

}  // namespace goodcop::supervisor
