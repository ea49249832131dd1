#pragma once
// Checked parsing of the small value languages users type: numbers, durations
// (5s, 2m, 1h) and sizes (512M, 2G). Strict: no signs, spaces, fractions or
// unknown units, and overflow is an error, never a wrap.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace goodcop {

// A parsed value or the reason it is not one ("expected ..."). Exactly one is meaningful.
template <typename T>
struct Parsed {
  T value{};
  std::string error;  // empty on success
  explicit operator bool() const noexcept { return error.empty(); }
};

// Decimal unsigned integer in [min, max].
Parsed<uint64_t> parse_uint(std::string_view s, uint64_t min = 0, uint64_t max = UINT64_MAX);

// Duration: digits followed by one unit of ms, s, m, h, d ("5s", "250ms", "2m", "1h").
Parsed<std::chrono::milliseconds> parse_duration(std::string_view s);

// Size in bytes: digits with an optional binary unit K, M, G or T ("512M", "2G", "4096").
Parsed<uint64_t> parse_size(std::string_view s);

// Formats a duration the way parse_duration reads it back ("1500ms", "5s", "2m").
std::string format_duration(std::chrono::milliseconds d);

// Formats a size the way parse_size reads it back, using the largest exact unit ("512M").
std::string format_size(uint64_t bytes);

}  // namespace goodcop
