#pragma once
// The verbs of goodcop. Each cmd_*.cc adds one CLI11 subcommand and returns what runs it;
// run_cli wires them and maps the result to an exit code. Two binaries serve them
// (docs/jail.md "Start cost"): `goodcop`, a small front that runs `goodcop jail` itself
// (front_main.cc) and hands every other verb to `goodcop-core` next to it (main.cc).

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
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
// `goodcop jail` alone (cmd_jail.cc): the root command as run_cli builds it, with the jail
// verb only, so help, errors and exit codes are the same. The front's path (issue 3: a jail
// starts no slower than bubblewrap); it links none of the other verbs.
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

// The root command (name, description, --version, one verb required) (cli_root.cc).
std::unique_ptr<CLI::App> make_root();
// Parses argv against root's verbs and runs the chosen one: a parse error or a verb's
// exception becomes the contract's message and exit code.
int parse_and_run(CLI::App& root, const std::vector<Verb>& verbs, int argc, char** argv);

}  // namespace goodcop::cli
