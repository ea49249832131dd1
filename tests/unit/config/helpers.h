#pragma once
// Shared by the config tests: parse a policy text and get its diagnostics as the
// user sees them ("p.yaml:LINE:COL: message").

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "config/policy.h"

namespace goodcop::test {

// A valid three-line policy that cases extend with one more key.
inline const std::string kBase = "name: w\npath: /srv/w\nexec: {start: [/bin/sh]}\n";

inline std::vector<std::string> errors_of(const std::string& text,
                                          const std::string& file = "p.yaml") {
  std::vector<std::string> out;
  for (const auto& d : config::parse_policy(text, file).diags) out.push_back(d.str());
  return out;
}

// Parses text that must be valid; fails the test with its diagnostics otherwise.
inline config::Policy valid(const std::string& text) {
  auto r = config::parse_policy(text, "p.yaml");
  INFO(text);
  for (const auto& d : r.diags) UNSCOPED_INFO(d.str());
  REQUIRE(r.ok());
  REQUIRE(r.policy);
  return *r.policy;
}

}  // namespace goodcop::test
