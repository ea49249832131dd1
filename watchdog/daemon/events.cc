#include "watchdog/daemon/events.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/log.h"

namespace goodcop::supervisor {

std::string format_time_utc(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  auto secs = static_cast<time_t>(ms / 1000);
  auto frac = ms % 1000;
  if (frac < 0) {  // before 1970: floor, not truncate
    frac += 1000;
    --secs;
  }
  struct tm tm {};
  ::gmtime_r(&secs, &tm);
  char buf[96];  // room for any int year, so the format can never truncate
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(frac));
  return buf;
}

std::string format_event(const Event& e) {
  nlohmann::ordered_json j = {
      {"time", format_time_utc(e.time)}, {"jail", e.jail},     {"from", state_name(e.from)},
      {"to", state_name(e.to)},          {"reason", e.reason}, {"evidence", e.evidence},
  };
  // A reason may quote a jail's file name: replace invalid UTF-8 rather than throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

EventLog::EventLog(const std::string& path, bool to_stderr) : path_(path), to_stderr_(to_stderr) {
  if (!path.empty()) fd_ = open_fd(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0640);
}

void EventLog::write(const Event& e) noexcept {
  try {
    std::string line = format_event(e);
    if (fd_) {
      // One write(2) with O_APPEND: the line lands whole at the end (regular files).
      ssize_t n = ::write(fd_.get(), line.data(), line.size());
      if (n != static_cast<ssize_t>(line.size()) && !write_failed_) {
        write_failed_ = true;
        int err = n < 0 ? errno : ENOSPC;
        log_error("event log '{}': write: {}, events go to stderr only until restart", path_,
                  std::strerror(err));
      }
    }
    if (to_stderr_) {
      ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
      (void)n;
    }
  } catch (...) {
  }
}

}  // namespace goodcop::supervisor
