#pragma once
// Ignore rules (the policy's watch.ignore): globs anchored at the tree root.
// '*' and '?' and [...] match within one path component, '**' as a whole component
// matches zero or more components. "var/log/**" ignores what is below var/log
// but not var/log itself; "**/*.pyc" matches at any depth.

#include <string>
#include <string_view>
#include <vector>

namespace goodcop::integrity {

// A set of ignore globs, checked once at construction.
class IgnoreSet {
 public:
  IgnoreSet() = default;
  // Throws Error on an empty glob, an unclosed '[', or a '**' that is not a whole component.
  explicit IgnoreSet(const std::vector<std::string>& globs);

  // True when the relative path (no leading '/', root is "") matches any glob.
  bool matches(std::string_view rel) const;
  bool empty() const { return globs_.empty(); }

 private:
  std::vector<std::vector<std::string>> globs_;  // split into components
};

// True when `name` (one component) matches the component pattern `pat`.
bool match_component(std::string_view pat, std::string_view name);

}  // namespace goodcop::integrity
