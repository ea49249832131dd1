// The manifest parser against mutants (a manifest may come from an archive an
// attacker touched): it refuses them, or accepts exactly what write_manifest
// gives back. fuzz/manifest_fuzz.cc runs the same mutator for longer.
#include "base/error.h"
#include "fuzz/manifest_mutator.h"
#include "integrity/manifest.h"
#include "tests/support/support.h"

namespace fz = goodcop::fuzz;
namespace in = goodcop::integrity;

TEST_CASE("the manifest parser refuses mutants or gives back the same bytes (20,000 mutants)") {
  const std::string seed = fz::seed_manifest();
  REQUIRE(fz::check_one(seed).empty());
  REQUIRE(in::parse_manifest(seed).size() == 12);
  fz::Rng rng(20261129);
  int accepted = 0;
  for (int i = 0; i < 20'000; ++i) {
    std::string text = fz::mutate(seed, rng);
    std::string bad = fz::check_one(text);
    if (!bad.empty()) {
      FAIL_CHECK("mutant " << i << ": " << bad << "\n" << in::escape_name(text));
      break;
    }
    if (text != seed) {
      try {
        in::parse_manifest(text);
        ++accepted;
      } catch (const goodcop::Error&) {
      }
    }
  }
  INFO("accepted mutants: " << accepted);
  CHECK(accepted > 0);  // some edits stay valid (a number changed): the check has teeth
}

TEST_CASE("the manifest parser accepts only the canonical form") {
  const std::string seed = fz::seed_manifest();
  using Catch::Matchers::EndsWith;
  auto edited = [&](const std::string& from, const std::string& to) {
    std::string s = seed;
    size_t at = s.find(from);
    REQUIRE(at != std::string::npos);
    return fz::reseal(s.replace(at, from.size(), to));
  };
  CHECK_THROWS_WITH(in::parse_manifest(edited(" mode=0755 uid=0", " uid=0 mode=0755")),
                    EndsWith("keyword 'mode' out of order"));
  CHECK_THROWS_WITH(in::parse_manifest(edited(" uid=0 ", " uid=00 ")), EndsWith("uid: expected a decimal number"));
  CHECK_THROWS_WITH(in::parse_manifest(edited("./etc/fifo", "./etc/fif\\157")), EndsWith("bad escape in 'etc/fif\\134157'"));
  CHECK_THROWS_WITH(in::parse_manifest(edited("./etc/fifo", "./etc/fi=fo")), EndsWith("unescaped byte in 'etc/fi\\075fo'"));
  CHECK_THROWS_WITH(in::parse_manifest(edited("./etc/fifo type=fifo", "./etc/fifo  type=fifo")),
                    EndsWith("expected key=value, got ''"));
  CHECK_THROWS_WITH(in::parse_manifest(edited("time=-2.500000000", "time=-0.500000000")),
                    EndsWith("time: negative zero seconds"));
  std::string ext = seed.substr(seed.find("#+ ctime="), seed.find('\n', seed.find("#+ ctime=")) - seed.find("#+ ctime="));
  REQUIRE(ext.find(" xattr.") != std::string::npos);
  std::string swapped = "#+ " + ext.substr(ext.find("xattr.")) + " " + ext.substr(3, ext.find(" xattr.") - 3);
  CHECK_THROWS_WITH(in::parse_manifest(edited(ext, swapped)), EndsWith("'#+' line must start with ctime"));
}
