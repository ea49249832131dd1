// The control protocol: every request the CLI sends parses back to itself; hostile
// lines are refused with a reason.
#include <catch2/catch.hpp>
#include <random>

#include "watchdog/daemon/protocol.h"

using namespace goodcop::supervisor;

TEST_CASE("protocol: requests round-trip", "[daemon][protocol]") {
  std::vector<Request> reqs(5);
  reqs[0].verb = Verb::kStatus;
  reqs[1].verb = Verb::kMaintain;
  reqs[1].jail = "web1";
  reqs[1].on = true;
  reqs[1].duration = std::chrono::minutes(90);
  reqs[2].verb = Verb::kExec;
  reqs[2].jail = "web1";
  reqs[2].argv = {"/bin/sh", "-c", "echo 'hi'\n"};
  reqs[3].verb = Verb::kRollback;
  reqs[3].jail = "db";
  reqs[3].version = "3";
  reqs[4].verb = Verb::kReload;
  for (const Request& r : reqs) {
    std::string line = format_request(r);
    REQUIRE(line.back() == '\n');
    CHECK(line.find('\n') == line.size() - 1);
    ParsedRequest p = parse_request(std::string_view(line).substr(0, line.size() - 1));
    INFO(line);
    REQUIRE(p);
    CHECK(p.request.verb == r.verb);
    CHECK(p.request.jail == r.jail);
    CHECK(p.request.on == r.on);
    CHECK(p.request.duration == r.duration);
    CHECK(p.request.argv == r.argv);
    CHECK(p.request.version == r.version);
  }
}

TEST_CASE("protocol: invalid requests say why", "[daemon][protocol]") {
  auto err = [](std::string_view l) { return parse_request(l).error; };
  CHECK(err(R"({"verb":"status","jail":"web1"})") == "status: takes no jail");
  CHECK(err(R"({"verb":"maintain","jail":"a","on":true,"for":"soon"})")
            .rfind("maintain: 'for': ", 0) == 0);
  CHECK(err(R"({"verb":"maintain","jail":"a","on":true,"for":"0s"})") ==
        "maintain: 'for' must be positive");
  CHECK(err(R"({"verb":"exec","jail":"a","argv":[]})") == "exec: 'argv' must be a non-empty list");
  CHECK(err(R"({"verb":"exec","jail":"a","argv":["ls",1]})") == "exec: 'argv' must hold strings");
  CHECK(err(R"({"verb":"check","jail":5})") == "malformed request: 'jail' must be a string");
  CHECK(err(std::string(kMaxRequestBytes + 1, ' ')) == "request too large");
}

TEST_CASE("protocol: random bytes never crash the parser", "[daemon][protocol]") {
  std::mt19937 rng(42);
  std::string seed = R"({"verb":"maintain","jail":"web1","on":true,"for":"2h","argv":["x"]})";
  int answered = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string s = seed;
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % (s.size() + 1);
      switch (rng() % 3) {
        case 0:
          s.insert(pos, 1, static_cast<char>(rng() % 256));
          break;
        case 1:
          if (pos < s.size()) s.erase(pos, 1);
          break;
        default:
          if (pos < s.size()) s[pos] = static_cast<char>(rng() % 256);
          break;
      }
    }
    // Total: returns a request or a reason, whatever the input.
    ParsedRequest p = parse_request(s);
    Response r = parse_response(s);
    if ((p || !p.error.empty()) && (r.ok || r.exit_code >= 1)) ++answered;
  }
  CHECK(answered == 5000);
}

TEST_CASE("protocol: responses round-trip - bad exit codes are clamped", "[daemon][protocol]") {
  Response ok = Response::success({{"state", "frozen"}});
  Response back = parse_response(format_response(ok));
  CHECK(back.ok);
  CHECK(back.body == nlohmann::json{{"state", "frozen"}});
  Response f = parse_response(format_response(Response::failure(2, "bad")));
  CHECK_FALSE(f.ok);
  CHECK(f.exit_code == 2);
  CHECK(f.error == "bad");
  CHECK(parse_response(R"({"ok":false,"exit":0,"error":"x"})").exit_code == 3);
  CHECK(parse_response(R"({"ok":false,"exit":255})").exit_code == 3);
  CHECK(parse_response("garbage").error == "malformed response from the daemon");
}
