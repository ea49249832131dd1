#include "base/parse.h"

#include <charconv>
#include <limits>

namespace goodcop {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Splits "123abc" into the leading digits and the rest; false when there are no digits.
bool split_number(std::string_view s, uint64_t& number, std::string_view& unit, bool& overflow) {
  size_t i = 0;
  while (i < s.size() && is_digit(s[i])) ++i;
  if (i == 0) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + i, number);
  overflow = ec == std::errc::result_out_of_range;
  if (ec != std::errc() && !overflow) return false;
  (void)ptr;
  unit = s.substr(i);
  return true;
}

bool mul_overflows(uint64_t a, uint64_t b, uint64_t& out) {
  return __builtin_mul_overflow(a, b, &out);
}

}  // namespace

Parsed<uint64_t> parse_uint(std::string_view s, uint64_t min, uint64_t max) {
  Parsed<uint64_t> r;
  uint64_t n = 0;
  std::string_view rest;
  bool overflow = false;
  if (!split_number(s, n, rest, overflow) || !rest.empty()) {
    r.error = "expected a non-negative integer";
    return r;
  }
  if (overflow || n < min || n > max) {
    r.error = "expected an integer from " + std::to_string(min) + " to " + std::to_string(max);
    return r;
  }
  r.value = n;
  return r;
}

Parsed<std::chrono::milliseconds> parse_duration(std::string_view s) {
  Parsed<std::chrono::milliseconds> r;
  const char* expected = "expected a duration such as 500ms, 5s, 2m, 1h or 1d";
  uint64_t n = 0;
  std::string_view unit;
  bool overflow = false;
  if (!split_number(s, n, unit, overflow)) {
    r.error = expected;
    return r;
  }
  uint64_t scale = 0;
  if (unit == "ms") scale = 1;
  else if (unit == "s") scale = 1000;
  else if (unit == "m") scale = 60'000;
  else if (unit == "h") scale = 3'600'000;
  else if (unit == "d") scale = 86'400'000;
  if (scale == 0) {
    r.error = expected;
    return r;
  }
  uint64_t ms = 0;
  if (overflow || mul_overflows(n, scale, ms) ||
      ms > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    r.error = "duration is too large";
    return r;
  }
  r.value = std::chrono::milliseconds(static_cast<int64_t>(ms));
  return r;
}

Parsed<uint64_t> parse_size(std::string_view s) {
  Parsed<uint64_t> r;
  const char* expected = "expected a size such as 4096, 64K, 512M, 2G or 1T";
  uint64_t n = 0;
  std::string_view unit;
  bool overflow = false;
  if (!split_number(s, n, unit, overflow)) {
    r.error = expected;
    return r;
  }
  uint64_t scale = 0;
  if (unit.empty()) scale = 1;
  else if (unit == "K") scale = 1ull << 10;
  else if (unit == "M") scale = 1ull << 20;
  else if (unit == "G") scale = 1ull << 30;
  else if (unit == "T") scale = 1ull << 40;
  if (scale == 0) {
    r.error = expected;
    return r;
  }
  uint64_t bytes = 0;
  if (overflow || mul_overflows(n, scale, bytes)) {
    r.error = "size is too large";
    return r;
  }
  r.value = bytes;
  return r;
}

std::string format_duration(std::chrono::milliseconds d) {
  auto ms = static_cast<uint64_t>(d.count());
  if (ms != 0 && ms % 86'400'000 == 0) return std::to_string(ms / 86'400'000) + "d";
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string format_size(uint64_t bytes) {
  const char* units[] = {"T", "G", "M", "K"};
  int shifts[] = {40, 30, 20, 10};
  for (int i = 0; i < 4; ++i) {
    uint64_t u = 1ull << shifts[i];
    if (bytes != 0 && bytes % u == 0) return std::to_string(bytes / u) + units[i];
  }
  return std::to_string(bytes);
}

}  // namespace goodcop
