#pragma once
// The wire between the starting process and the setup mode: the JailSpec as bytes, and
// the fixed-size report records ({step, errno}, the init's pid) sent back over a pipe.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "kernel/jail.h"

namespace goodcop::kernel {

// The first field of an encoded spec; changes whenever the encoding does.
inline constexpr const char* kWireMagic = "goodcop-spec-3";

// Encodes the spec (and the host id base) for the setup mode.
std::string encode_spec(const JailSpec& spec);
// Decodes what encode_spec wrote; throws Error on malformed input.
JailSpec decode_spec(std::string_view bytes);

// One record on the report pipe. At most PIPE_BUF bytes, so one write(2) is atomic even
// with the setup process, the init and the command's child all writing.
struct Report {
  enum Kind : uint32_t { kPid = 1, kFailure = 2 };
  uint32_t kind = 0;
  int32_t err = 0;
  int32_t pid = 0;
  char op[48] = {};
  char path[400] = {};
};
static_assert(sizeof(Report) <= 512);

// Writes a failure record (async-signal-safe: usable between fork and exec). Truncates.
void report_failure(int fd, const char* op, const char* path, int err) noexcept;
// Writes the init's pid record.
void report_pid(int fd, pid_t pid) noexcept;

// goodcop's init's last word to the starter, on the go socket: the command's exit code
// (0..255), sent once every other process of the jail is gone too (kernel/init.h
// kill_and_reap_all), before the init exits. Two bytes, 'x' and the code; MSG_NOSIGNAL (a
// starter that went away is EPIPE, not a signal). Async-signal-safe.
void report_status(int sock, int code) noexcept;
// Reads it (blocking): the code, or nullopt when the init ended without one (EOF). Throws
// SysError.
std::optional<int> read_status(int sock);

// Reads the whole of fd (the config pipe); throws SysError.
std::string read_all(int fd, size_t max_bytes);

}  // namespace goodcop::kernel
