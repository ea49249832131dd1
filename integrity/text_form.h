#pragma once
// The fixed words of the manifest text form, version 1 (docs/manifest.md), shared
// by its writer (write.cc) and its parser (format.cc). Internal to integrity/.

#include <atomic>
#include <cstddef>
#include <functional>
#include <string_view>

namespace goodcop::integrity {
class Manifest;
}

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

// write_manifest(m, sink) for a manifest another thread is still filling in
// (the walk's join, overlapped with the writing): it will hold n entries;
// entries [0, ready) are final (ready is stored with release after them, and m
// was reserved so that adding moves nothing). A chunk is formatted once ready
// covers it. Its paths are checked to be in strictly increasing order (Error
// otherwise: nothing unsorted is written). ready == kFillFailed: the filler gave
// up; this throws Error.
inline constexpr size_t kFillFailed = SIZE_MAX;
void write_filling(const Manifest& m, size_t n, const std::atomic<size_t>& ready,
                   const std::function<void(std::string_view)>& sink);

}  // namespace goodcop::integrity::text
