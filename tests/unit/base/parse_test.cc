#include "base/parse.h"

#include <catch2/catch.hpp>

using namespace goodcop;
using namespace std::chrono_literals;

TEST_CASE("durations parse in every unit", "[base][parse]") {
  CHECK(parse_duration("250ms").value == 250ms);
  CHECK(parse_duration("5s").value == 5s);
  CHECK(parse_duration("2m").value == 2min);
  CHECK(parse_duration("1h").value == 1h);
  CHECK(parse_duration("1d").value == 24h);
  CHECK(parse_duration("0s").value == 0ms);
}

TEST_CASE("bad durations are refused with the expected forms", "[base][parse]") {
  for (const char* bad : {"", "5", "s", "-5s", "+5s", " 5s", "5s ", "5 s", "1.5s", "5S", "5sec",
                          "5min", "1h30m", "0x10s"}) {
    INFO(bad);
    auto r = parse_duration(bad);
    CHECK_FALSE(r);
    CHECK(r.error == "expected a duration such as 500ms, 5s, 2m, 1h or 1d");
  }
  CHECK(parse_duration("99999999999999999999s").error == "duration is too large");
  CHECK(parse_duration("9999999999999999d").error == "duration is too large");
}

TEST_CASE("sizes parse with binary units", "[base][parse]") {
  CHECK(parse_size("4096").value == 4096);
  CHECK(parse_size("64K").value == 64u << 10);
  CHECK(parse_size("512M").value == 512u << 20);
  CHECK(parse_size("2G").value == 2ull << 30);
  CHECK(parse_size("1T").value == 1ull << 40);
}

TEST_CASE("bad sizes are refused", "[base][parse]") {
  for (const char* bad : {"", "M", "-1M", "1.5G", "2g", "2GB", "2 G", "2Gi", "1P"}) {
    INFO(bad);
    auto r = parse_size(bad);
    CHECK_FALSE(r);
    CHECK(r.error == "expected a size such as 4096, 64K, 512M, 2G or 1T");
  }
  CHECK(parse_size("16777216T").error == "size is too large");
}

TEST_CASE("integers are range-checked", "[base][parse]") {
  CHECK(parse_uint("42", 1, 100).value == 42);
  CHECK(parse_uint("0", 1, 100).error == "expected an integer from 1 to 100");
  CHECK(parse_uint("101", 1, 100).error == "expected an integer from 1 to 100");
  CHECK(parse_uint("4x").error == "expected a non-negative integer");
  CHECK(parse_uint("-1").error == "expected a non-negative integer");
  CHECK_FALSE(parse_uint("18446744073709551616"));
}

TEST_CASE("durations and sizes format back to what parses", "[base][parse]") {
  CHECK(format_duration(1500ms) == "1500ms");
  CHECK(format_duration(5s) == "5s");
  CHECK(format_duration(120s) == "2m");
  CHECK(format_duration(0ms) == "0s");
  CHECK(format_size(512u << 20) == "512M");
  CHECK(format_size(1000) == "1000");
  for (const char* s : {"7s", "3h", "250ms", "64K", "3G"}) {
    auto d = parse_duration(s);
    if (d) CHECK(format_duration(d.value) == s);
    else CHECK(format_size(parse_size(s).value) == s);
  }
}
