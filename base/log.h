#pragma once
// A minimal leveled logger to stderr. Layers below watchdog/ log at debug at most;
// the watchdog logs once per failure, as one line.

#include <fmt/format.h>

#include <string_view>

namespace goodcop {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// The process-wide log level (one of the two permitted globals, with the parsed flags).
void set_log_level(LogLevel level) noexcept;
LogLevel log_level() noexcept;

// Writes "goodcop: <level>: <msg>\n" to stderr in one write(2) when level is enabled.
void log_line(LogLevel level, std::string_view msg) noexcept;

template <typename... Args>
void log_debug(fmt::format_string<Args...> f, Args&&... args) {
  if (log_level() <= LogLevel::kDebug)
    log_line(LogLevel::kDebug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void log_info(fmt::format_string<Args...> f, Args&&... args) {
  if (log_level() <= LogLevel::kInfo)
    log_line(LogLevel::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void log_warn(fmt::format_string<Args...> f, Args&&... args) {
  if (log_level() <= LogLevel::kWarn)
    log_line(LogLevel::kWarn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void log_error(fmt::format_string<Args...> f, Args&&... args) {
  log_line(LogLevel::kError, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace goodcop
