// goodcop: one binary, many verbs (watchdog/cli.h).
#include "watchdog/cli.h"

int main(int argc, char** argv) { return goodcop::cli::run_cli(argc, argv); }
