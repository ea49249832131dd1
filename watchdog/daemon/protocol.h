#pragma once
// The control protocol: newline-delimited JSON over the control socket. One request
// per line, one response line per request (docs/operations.md "Control socket").
//   → {"verb":"check","jail":"web1"}
//   ← {"ok":true,"result":"clean"}            or  {"ok":false,"exit":3,"error":"..."}
// Parsing is pure and total: any byte string gives a Request or an error message.

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/fd.h"

namespace goodcop::supervisor {

// A request line longer than this is refused and the connection closed.
inline constexpr size_t kMaxRequestBytes = 16 * 1024;
// At most this many arguments (exec's argv), each at most kMaxRequestBytes in total.
inline constexpr size_t kMaxArgs = 256;
// Descriptors a request may carry (SCM_RIGHTS): exec's stdin, stdout and stderr.
inline constexpr size_t kMaxPassedFds = 3;

// The verbs of the protocol (the CLI verbs of the same names).
enum class Verb : uint8_t {
  kStatus,
  kCheck,
  kSnapshot,
  kFreeze,
  kThaw,
  kRestore,
  kExec,
  kMaintain,
  kSeal,
  kRollback,
  kReload
};

// One parsed request.
struct Request {
  Verb verb = Verb::kStatus;
  std::string jail;                       // every verb except status and reload
  bool on = false;                        // maintain
  std::chrono::milliseconds duration{0};  // maintain on: window ("for"), 0 = default
  std::vector<std::string> argv;          // exec
  std::string version;                    // rollback ("" = previous)
  // exec: the client's stdin, stdout, stderr, received with the request (not part of
  // the line). Shared so copies of the request do not dup them; closed with the last copy.
  std::shared_ptr<const std::vector<UniqueFd>> fds;
};

// A request or why it is not one. Exactly one is meaningful.
struct ParsedRequest {
  Request request;
  std::string error;
  explicit operator bool() const noexcept { return error.empty(); }
};

// Parses one request line (without its newline).
ParsedRequest parse_request(std::string_view line);

// The request as a line (newline included): what the CLI sends.
std::string format_request(const Request& r);

std::string_view verb_name(Verb v);

// One response. `body` (an object) is merged into the response line on success.
struct Response {
  bool ok = true;
  int exit_code = 0;  // the CLI's exit code on failure (2 usage, 3 failure)
  std::string error;
  nlohmann::json body = nlohmann::json::object();

  static Response success(nlohmann::json body = nlohmann::json::object());
  static Response failure(int exit_code, std::string error);
};

// The response as a line (newline included).
std::string format_response(const Response& r);

// Parses a response line; a malformed one becomes a failure with exit code 3.
Response parse_response(std::string_view line);

}  // namespace goodcop::supervisor
