#pragma once
// The verbs of the goodcop binary. Each cmd_*.cc adds one CLI11 subcommand and
// returns what runs it; main() wires them and maps the result to an exit code.

#include <CLI/CLI.hpp>

#include <functional>
#include <vector>

namespace goodcop::cli {

// Exit codes of the contract (DESIGN.md): 0 clean, 1 deviation, 2 usage or policy error,
// 3 any other failure.
inline constexpr int kExitOk = 0;
inline constexpr int kExitDeviation = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitFailure = 3;

// One subcommand and the function that runs it once its options are parsed.
struct Verb {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Verb add_policy_verb(CLI::App& root);
Verb add_jail_verb(CLI::App& root);
// `goodcop jail` alone, without building the other verbs' parsers: main()'s fast path
// (issue 3: a jail starts no slower than bubblewrap).
int run_jail_cli(int argc, char** argv);
Verb add_manifest_verb(CLI::App& root);
Verb add_seal_verb(CLI::App& root);
Verb add_restore_verb(CLI::App& root);
Verb add_evidence_verb(CLI::App& root);
Verb add_daemon_verb(CLI::App& root);
// The verbs that talk to a running daemon over its control socket (status, check, ...).
// A name already taken by an offline verb (seal, restore) is skipped.
std::vector<Verb> add_control_verbs(CLI::App& root);

// Parses argv against all verbs and runs the chosen one; returns the exit code.
// Usage errors print one line and CLI11's hint to stderr and return kExitUsage.
int run_cli(int argc, char** argv);

}  // namespace goodcop::cli
