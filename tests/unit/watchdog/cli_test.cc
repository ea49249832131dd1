// The contract of the goodcop binary itself: help, version, usage errors.
#include <catch2/catch.hpp>

#include "base/version.h"
#include "tests/support/support.h"

using goodcop::test::run_goodcop;

TEST_CASE("goodcop --help lists the verbs and exits 0", "[cli]") {
  auto r = run_goodcop({"--help"});
  CHECK(r.status == 0);
  CHECK(r.out.find("policy") != std::string::npos);
  CHECK(r.out.find("manifest") != std::string::npos);
  CHECK(r.out.find("jail") != std::string::npos);
}

TEST_CASE("goodcop --version prints the version", "[cli]") {
  auto r = run_goodcop({"--version"});
  CHECK(r.status == 0);
  CHECK(r.out == std::string("goodcop ") + goodcop::kVersion + "\n");
}

TEST_CASE("usage errors exit 2 with one line on stderr", "[cli]") {
  auto none = run_goodcop({});
  CHECK(none.status == 2);
  auto bad = run_goodcop({"frobnicate"});
  CHECK(bad.status == 2);
  CHECK(bad.err.rfind("goodcop: ", 0) == 0);
}
