// A small deterministic fuzz loop over the loader: mutated versions of the shipped
// example must never crash, hang or throw, and whatever is accepted must round-trip.
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>

#include "base/fd.h"
#include "config/policy.h"
#include "tests/support/support.h"

using namespace goodcop::config;

TEST_CASE("mutated policies never crash the loader", "[config][fuzz]") {
  const std::string seed =
      goodcop::read_file(goodcop::test::source_dir() + "/docs/examples/web-customer.yaml");
  const std::vector<std::string> tokens = {
      "&a ",  "*a",          "[",   "]",    "{",  "}",    ":",     ": ", "- ",     "\t",
      "\xff", "\xc3",        "'",   "\"",   "\\", "\n  ", "---\n", "? ", "!!str ", "#",
      ",",    "%YAML 1.2\n", "|\n", ">-\n", "..", "/",    "0x1f",  "~",  "\r\n",   "\0"};
  std::mt19937 rng(20261129);  // fixed: a failure reproduces
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  size_t accepted = 0;
  for (int i = 0; i < 1500; ++i) {
    std::string t = seed;
    int edits = 1 + static_cast<int>(pick(4));
    for (int e = 0; e < edits; ++e) {
      size_t at = pick(t.size() + 1);
      switch (pick(4)) {
        case 0:
          t.insert(at, tokens[pick(tokens.size())]);
          break;
        case 1:
          t.erase(at, pick(12));
          break;
        case 2:
          if (!t.empty() && at < t.size()) t[at] = static_cast<char>(pick(256));
          break;
        default: {
          size_t from = pick(t.size() + 1);
          t.insert(at, t.substr(from, pick(40)));
        }
      }
    }
    FileResult r;
    REQUIRE_NOTHROW(r = parse_policy(t, "f.yaml"));
    for (const Diag& d : r.diags) {
      INFO(t);
      CHECK(d.file == "f.yaml");
      CHECK(!d.message.empty());
    }
    if (r.ok()) {
      ++accepted;
      REQUIRE(r.policy);
      FileResult again = parse_policy(format_policy(*r.policy), "g.yaml");
      CHECK(again.ok());
      if (again.ok()) CHECK(format_policy(*again.policy) == format_policy(*r.policy));
    }
  }
  // Some mutations (in comments, in the description) keep the policy valid.
  CHECK(accepted > 0);
}
