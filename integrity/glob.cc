#include "integrity/glob.h"

#include "base/error.h"

namespace goodcop::integrity {
namespace {

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t slash = s.find('/', start);
    if (slash == std::string_view::npos) slash = s.size();
    if (slash > start) out.push_back(s.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

// Matches a class "[...]" at pat[0]; returns the length of the class or 0 when malformed.
size_t match_class(std::string_view pat, char c, bool& hit) {
  size_t i = 1;
  bool negate = i < pat.size() && (pat[i] == '!' || pat[i] == '^');
  if (negate) ++i;
  bool any = false;
  bool first = true;
  for (; i < pat.size(); ++i) {
    if (pat[i] == ']' && !first) {
      hit = any != negate;
      return i + 1;
    }
    first = false;
    if (i + 2 < pat.size() && pat[i + 1] == '-' && pat[i + 2] != ']') {
      if (c >= pat[i] && c <= pat[i + 2]) any = true;
      i += 2;
    } else if (pat[i] == c) {
      any = true;
    }
  }
  return 0;
}

bool match_parts(const std::vector<std::string>& pat, size_t pi,
                 const std::vector<std::string_view>& path, size_t si) {
  for (; pi < pat.size(); ++pi, ++si) {
    if (pat[pi] == "**") {
      // A trailing "**" needs at least one component: "a/**" is below a, not a itself.
      if (pi + 1 == pat.size()) return si < path.size();
      for (size_t k = si; k <= path.size(); ++k)
        if (match_parts(pat, pi + 1, path, k)) return true;
      return false;
    }
    if (si >= path.size() || !match_component(pat[pi], path[si])) return false;
  }
  return si == path.size();
}

}  // namespace

bool match_component(std::string_view pat, std::string_view name) {
  size_t p = 0, n = 0, star_p = std::string_view::npos, star_n = 0;
  while (n < name.size()) {
    if (p < pat.size() && pat[p] == '*') {
      star_p = p++;
      star_n = n;
      continue;
    }
    if (p < pat.size()) {
      bool ok = false;
      size_t len = 1;
      if (pat[p] == '?') {
        ok = true;
      } else if (pat[p] == '[') {
        bool hit = false;
        len = match_class(pat.substr(p), name[n], hit);
        ok = len > 0 && hit;
        if (len == 0) len = 1;
      } else if (pat[p] == '\\' && p + 1 < pat.size()) {
        ok = pat[p + 1] == name[n];
        len = 2;
      } else {
        ok = pat[p] == name[n];
      }
      if (ok) {
        p += len;
        ++n;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p + 1;
    n = ++star_n;
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

IgnoreSet::IgnoreSet(const std::vector<std::string>& globs) {
  for (const std::string& g : globs) {
    std::vector<std::string_view> parts = split(g);
    if (parts.empty()) throw Error("ignore glob '" + g + "' is empty");
    std::vector<std::string> owned;
    for (std::string_view part : parts) {
      if (part.find("**") != std::string_view::npos && part != "**")
        throw Error("ignore glob '" + g + "': '**' must be a whole path component");
      for (size_t i = 0; i < part.size(); ++i) {
        if (part[i] == '[') {
          bool hit = false;
          if (match_class(part.substr(i), 'x', hit) == 0)
            throw Error("ignore glob '" + g + "': unclosed '['");
        }
      }
      owned.emplace_back(part);
    }
    globs_.push_back(std::move(owned));
  }
}

bool IgnoreSet::matches(std::string_view rel) const {
  if (globs_.empty() || rel.empty()) return false;
  std::vector<std::string_view> path = split(rel);
  for (const auto& g : globs_)
    if (match_parts(g, 0, path, 0)) return true;
  return false;
}

}  // namespace goodcop::integrity
