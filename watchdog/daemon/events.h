#pragma once
// Events: one JSON line per state change, appended to the event log and to stderr.
//   {"time":"2026-11-29T18:20:01.123Z","jail":"web1","from":"checking","to":"tampered",
//    "reason":"deviation: 1 changed","evidence":""}

#include <chrono>
#include <string>

#include "base/fd.h"
#include "watchdog/daemon/lifecycle.h"

namespace goodcop::supervisor {

// One state change of one jail.
struct Event {
  std::chrono::system_clock::time_point time;
  std::string jail;
  State from;
  State to;
  std::string reason;
  std::string evidence;  // the evidence bundle's path, "" when none
};

// "2026-11-29T18:20:01.123Z": UTC, RFC 3339, milliseconds.
std::string format_time_utc(std::chrono::system_clock::time_point t);

// The event as one JSON line, newline included.
std::string format_event(const Event& e);

// Appends event lines to a file (O_APPEND, one write(2) per line, so lines from
// concurrent writers never interleave) and copies them to stderr.
class EventLog {
 public:
  // Opens (creating, mode 0640) the log; "" logs to stderr only. Throws SysError.
  explicit EventLog(const std::string& path, bool to_stderr = true);
  // Writes the event. A failed write is reported once on stderr, never thrown: a full
  // disk must not stop the supervisor from healing jails.
  void write(const Event& e) noexcept;

 private:
  std::string path_;
  UniqueFd fd_;
  bool to_stderr_;
  bool write_failed_ = false;
};

}  // namespace goodcop::supervisor
