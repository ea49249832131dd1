#pragma once
// Internal to backups/: the two halves of extract_archive(). The caller writes the
// options into a memfd and spawns `goodcop __backups-extract PPID OPTS ARCHIVE TARGET
// REPORT HOLD` (fd numbers); the helper decodes them, extracts, and writes one line to
// REPORT: "ok ENTRIES BYTES" or "error MESSAGE".

#include <string>
#include <string_view>

#include "backups/extract.h"

namespace goodcop::backups {

// The internal mode's argv[1].
inline constexpr const char* kExtractMode = "__backups-extract";

// Options as the helper receives them (`expected` points into `tree`).
struct HelperOptions {
  ExtractOptions opts;
  ExpectedTree tree;
  std::string what;  // the archive's path, for messages
};

// The wire form of extraction options (length-prefixed, versioned).
std::string encode_extract_options(const ExtractOptions& opts, const std::string& what);

// Decodes encode_extract_options' output; throws Error when malformed.
void decode_extract_options(std::string_view data, HelperOptions& out);

// The extraction proper, from an archive fd into the current directory (helper only).
ExtractStats extract_from_fd(int archive_fd, const std::string& what, const ExtractOptions& opts);

// `goodcop __backups-extract ...`: returns the helper's exit code.
int extract_helper_main(int argc, char** argv);

}  // namespace goodcop::backups
