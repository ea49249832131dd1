#pragma once
// The guarded front end of the policy loader (internal to config/): checks the raw
// bytes (size, UTF-8, control characters, tabs), then runs yaml-cpp's event parser
// into a small tree of our own. Building our own tree is what lets us refuse
// aliases before they are expanded (alias bombs), see duplicate keys (yaml-cpp 0.7
// keeps both silently), tell quoted from plain scalars, and keep every position.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/diag.h"

namespace goodcop::config {

// Files larger than this are refused before parsing: a policy is a few hundred bytes.
inline constexpr size_t kMaxPolicyBytes = 1u << 20;
// Bounds on the YAML tree, far above any real policy, so hostile input stays cheap.
inline constexpr size_t kMaxNodes = 20000;
inline constexpr size_t kMaxDepth = 16;

// One YAML node with its position.
struct YNode {
  enum class Kind { null, scalar, seq, map };
  Kind kind = Kind::null;
  Location at;
  std::string value;         // scalars
  bool quoted = false;       // scalars: '...' or "..." (so "true" is a string, not a boolean)
  std::vector<YNode> items;  // sequences
  std::vector<std::pair<YNode, YNode>> pairs;  // mappings, in file order, duplicates kept
};

// "a string", "a list", "a mapping" or "null": how a wrong type is named in messages.
std::string_view kind_name(const YNode& n);

// The parsed document, or the diagnostics that stopped it (then root is null).
struct YamlDoc {
  std::unique_ptr<YNode> root;
  std::vector<Diag> diags;
};

// Checks and parses `text` (the contents of `file`, which only names it in diagnostics).
// Never throws for bad input: every problem becomes a Diag.
YamlDoc parse_yaml(std::string_view text, const std::string& file);

}  // namespace goodcop::config
