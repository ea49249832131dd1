// The contract of the goodcop binary itself: help, version, usage errors.
#include <catch2/catch.hpp>

#include "base/fd.h"
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

TEST_CASE("an unknown verb is named, at the top and below a verb", "[cli]") {
  auto top = run_goodcop({"frobnicate", "x"});
  CHECK(top.status == 2);
  CHECK(top.err == "goodcop: unknown verb 'frobnicate'\nRun with --help for more information.\n");
  auto below = run_goodcop({"manifest", "frob"});
  CHECK(below.status == 2);
  CHECK(below.err ==
        "goodcop: manifest: unknown verb 'frob'\nRun with --help for more information.\n");
  // A verb's own arguments are not verbs.
  auto args = run_goodcop({"manifest", "build"});
  CHECK(args.status == 2);
  CHECK(args.err.find("unknown verb") == std::string::npos);
}

namespace {
// goodcop-core, next to the goodcop front (watchdog/front_main.cc).
std::string core_binary() {
  const std::string front = GOODCOP_BINARY;
  return front.substr(0, front.rfind('/')) + "/goodcop-core";
}
}  // namespace

TEST_CASE("goodcop hands every verb but jail to goodcop-core, which says the same",
          "[cli]") {
  using goodcop::test::run;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--help"}, {"jail", "--help"}, {"policy", "--help"},
        {"--version"}, {"frobnicate"}, {"jail", "--no-such-option"}}) {
    INFO(args.front() << " " << args.back());
    auto front = run_goodcop(args);
    std::vector<std::string> argv{core_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto core = run(argv);
    CHECK(front.status == core.status);
    CHECK(front.out == core.out);
    CHECK(front.err == core.err);
  }
}

TEST_CASE("goodcop without goodcop-core next to it says so and exits 3", "[cli]") {
  goodcop::test::TempDir dir;
  const std::string lone = dir / "goodcop";
  goodcop::test::write_text(lone, goodcop::read_file(GOODCOP_BINARY, 256u << 20), 0755);
  auto r = goodcop::test::run({lone, "--version"});
  CHECK(r.status == 3);
  CHECK(r.out == "");
  CHECK(r.err == "goodcop: execv '" + dir.path() +
                     "/goodcop-core': No such file or directory (goodcop-core is installed next "
                     "to goodcop; only `goodcop jail` runs without it)\n");
}
