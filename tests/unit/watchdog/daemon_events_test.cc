// Events: one JSON line per state change, appended whole.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "base/fd.h"
#include "tests/support/support.h"
#include "watchdog/daemon/events.h"

using namespace goodcop::supervisor;
using goodcop::test::TempDir;

namespace {
std::chrono::system_clock::time_point at_ms(int64_t ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}
}  // namespace

TEST_CASE("events: times are UTC RFC 3339 with milliseconds", "[daemon][events]") {
  CHECK(format_time_utc(at_ms(0)) == "1970-01-01T00:00:00.000Z");
  CHECK(format_time_utc(at_ms(1795976401123)) == "2026-11-29T18:20:01.123Z");
  CHECK(format_time_utc(at_ms(-1)) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("events: an event is one JSON line with every field", "[daemon][events]") {
  Event e{at_ms(1795976401123), "web1",          State::kPreserving, State::kRestoring,
          "evidence written",   "/ev/web1-1.tar"};
  std::string line = format_event(e);
  CHECK(
      line ==
      R"({"time":"2026-11-29T18:20:01.123Z","jail":"web1","from":"preserving","to":"restoring","reason":"evidence written","evidence":"/ev/web1-1.tar"})"
      "\n");
  // A hostile file name in a reason (newline, invalid UTF-8) stays inside one line.
  e.reason = "deviation: 'a\nb\xff'";
  std::string l2 = format_event(e);
  CHECK(l2.find('\n') == l2.size() - 1);
  CHECK(nlohmann::json::parse(l2)["reason"].get<std::string>().find("a\nb") != std::string::npos);
}

TEST_CASE("events: the log appends whole lines from concurrent writers", "[daemon][events]") {
  TempDir tmp;
  std::string path = tmp / "events.log";
  goodcop::test::write_text(path, "earlier line\n");
  {
    EventLog log(path, /*to_stderr=*/false);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&log, t] {
        for (int i = 0; i < 50; ++i)
          log.write(Event{std::chrono::system_clock::now(), "jail" + std::to_string(t),
                          State::kRunning, State::kChecking, std::string(300, 'x'), ""});
      });
    }
    for (auto& th : threads) th.join();
  }
  std::string text = goodcop::read_file(path);
  REQUIRE(text.rfind("earlier line\n", 0) == 0);  // appended, not truncated
  size_t lines = 0, pos = 13;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    REQUIRE(nl != std::string::npos);
    auto j = nlohmann::json::parse(text.substr(pos, nl - pos));  // throws if torn
    CHECK(j["from"] == "running");
    ++lines;
    pos = nl + 1;
  }
  CHECK(lines == 200);
}
