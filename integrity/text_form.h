#pragma once
// The fixed words of the manifest text form, version 1 (docs/manifest.md), shared
// by its writer (write.cc) and its parser (format.cc). Internal to integrity/.

#include <string_view>

namespace goodcop::integrity::text {

inline constexpr std::string_view kMagic = "#mtree";
inline constexpr std::string_view kVersionLine = "#goodcop-manifest 1";
inline constexpr std::string_view kVersionPrefix = "#goodcop-manifest ";
inline constexpr std::string_view kIgnorePrefix = "#goodcop-ignore ";
inline constexpr std::string_view kDigestPrefix = "#goodcop-sha256 ";
inline constexpr std::string_view kExtPrefix = "#+ ";

// The bytes escape_name() writes as "\ooo": outside printable ASCII, space, '\\', '#', '='.
inline bool needs_escape(char ch) {
  auto c = static_cast<unsigned char>(ch);
  return c <= 0x20 || c >= 0x7f || c == '\\' || c == '#' || c == '=';
}

}  // namespace goodcop::integrity::text
