#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <string>

namespace goodcop {
namespace {
std::atomic<LogLevel> g_level{LogLevel::kInfo};
}

void set_log_level(LogLevel level) noexcept { g_level.store(level); }
LogLevel log_level() noexcept { return g_level.load(); }

void log_line(LogLevel level, std::string_view msg) noexcept {
  if (level < g_level.load()) return;
  static constexpr const char* kNames[] = {"debug", "info", "warning", "error"};
  try {
    std::string line = "goodcop: ";
    line += kNames[static_cast<int>(level)];
    line += ": ";
    line += msg;
    line += '\n';
    // One write so concurrent lines do not interleave.
    ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
    (void)n;
  } catch (...) {
  }
}

}  // namespace goodcop
