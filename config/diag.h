#pragma once
// Diagnostics of the policy loader: a message tied to a file and, when it comes
// from the text, a 1-based line and column (in characters, not bytes).

#include <string>
#include <string_view>
#include <vector>

namespace goodcop::config {

// A position in a policy file, 1-based. line == 0 means "no position" (a file-level fact).
struct Location {
  int line = 0;
  int column = 0;
  bool known() const noexcept { return line > 0; }
};

// One problem found in one file.
struct Diag {
  std::string file;
  Location at;
  std::string message;
  // "FILE:LINE:COL: message", or "'FILE': message" without a position.
  std::string str() const;
};

// Renders "FILE:LINE:COL" (or "FILE" without a position) for cross-file references.
std::string where(const std::string& file, Location at);

// The candidate closest to `word` by edit distance (transpositions count once) if it
// is a plausible typo of it, else empty: "exec.strat" -> "exec.start".
std::string suggest(std::string_view word, const std::vector<std::string_view>& candidates);

// " (did you mean 'x'?)" for the closest candidate, or "".
std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace goodcop::config
