#pragma once
// Internal to config/: the steps of parse_policy after the YAML front end.

#include <string>
#include <vector>

#include "config/policy.h"
#include "config/yaml_guard.h"

namespace goodcop::config {

// Walks the document through the key table into `p`, appending every problem.
void apply_schema(const YNode& root, Policy& p, std::vector<Diag>& diags);

// Fills the defaults that depend on other keys and checks the combinations of keys
// within one policy (network vs addresses, overlapping paths, ...).
void finish_policy(Policy& p, std::vector<Diag>& diags);

}  // namespace goodcop::config
