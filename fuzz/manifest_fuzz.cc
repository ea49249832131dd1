// goodcop_fuzz_manifest: runs the manifest parser's mutation fuzzer for longer
// than ctest does (fuzz/manifest_mutator.h says what is checked).
//
//   goodcop_fuzz_manifest [ITERATIONS [SEED [MANIFEST...]]]
//
// MANIFEST files (e.g. built with `goodcop manifest build`) join the built-in
// seed as starting points. Exit 0: no finding; 1: a finding, written to
// ./manifest-fuzz-finding.mtree; 2: usage.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "base/fd.h"
#include "fuzz/manifest_mutator.h"

int main(int argc, char** argv) {
  using goodcop::fuzz::check_one;
  unsigned long long iterations = 1'000'000, seed = 1;
  if (argc > 1 && (argv[1][0] < '0' || argv[1][0] > '9')) {
    std::cerr << "usage: goodcop_fuzz_manifest [ITERATIONS [SEED [MANIFEST...]]]\n";
    return 2;
  }
  if (argc > 1) iterations = std::strtoull(argv[1], nullptr, 10);
  if (argc > 2) seed = std::strtoull(argv[2], nullptr, 10);
  std::vector<std::string> corpus{goodcop::fuzz::seed_manifest()};
  try {
    for (int i = 3; i < argc; ++i) corpus.push_back(goodcop::read_file(argv[i], 256u << 20));
  } catch (const std::exception& e) {
    std::cerr << "goodcop_fuzz_manifest: " << e.what() << "\n";
    return 2;
  }
  goodcop::fuzz::Rng rng(seed);
  auto start = std::chrono::steady_clock::now();
  for (unsigned long long n = 0; n < iterations; ++n) {
    const std::string& base = corpus[rng.below(corpus.size())];
    std::string text = goodcop::fuzz::mutate(base, rng);
    std::string bad = check_one(text);
    if (!bad.empty()) {
      std::cerr << "finding after " << n << " mutants (seed " << seed << "): " << bad
                << "\nwritten to manifest-fuzz-finding.mtree\n";
      goodcop::write_file_atomic("manifest-fuzz-finding.mtree", text);
      return 1;
    }
    if ((n + 1) % 100'000 == 0) {
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::cerr << n + 1 << " mutants, " << static_cast<unsigned long long>(static_cast<double>(n + 1) / s) << "/s\n";
    }
  }
  std::cerr << iterations << " mutants, no finding\n";
  return 0;
}
