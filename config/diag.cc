#include "config/diag.h"

#include <algorithm>
#include <cstdio>

namespace goodcop::config {

namespace {

// Values echoed in messages come from the file: a "\e]0;..." escape in a policy must not
// reach the operator's terminal as a control sequence.
std::string printable(std::string s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string Diag::str() const {
  if (!at.known()) return printable("'" + file + "': " + message);
  return printable(where(file, at) + ": " + message);
}

std::string where(const std::string& file, Location at) {
  if (!at.known()) return file;
  return file + ":" + std::to_string(at.line) + ":" + std::to_string(at.column);
}

namespace {

// Optimal string alignment distance: Levenshtein plus adjacent transpositions,
// so "strat" is one edit from "start" (the typo operators actually make).
size_t osa_distance(std::string_view a, std::string_view b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[n][m];
}

}  // namespace

std::string suggest(std::string_view word, const std::vector<std::string_view>& candidates) {
  // Inputs are attacker-typed in the worst case: bound the quadratic work.
  if (word.empty() || word.size() > 64) return {};
  std::string_view best;
  size_t best_d = SIZE_MAX;
  for (std::string_view c : candidates) {
    // The distance is at least the difference in length: skip what cannot be within 2.
    if (c.size() > word.size() + 2 || word.size() > c.size() + 2) continue;
    size_t dist = osa_distance(word, c);
    if (dist < best_d) {
      best_d = dist;
      best = c;
    }
  }
  // At most 2 edits, and fewer than a third of the word, so "ab" does not become "cd".
  size_t limit = std::min<size_t>(2, std::max<size_t>(1, word.size() / 3));
  if (best_d == 0 || best_d > limit) return {};
  return std::string(best);
}

std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string s = suggest(word, candidates);
  return s.empty() ? std::string() : " (did you mean '" + s + "'?)";
}

}  // namespace goodcop::config
