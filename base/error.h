#pragma once
// The error types of goodcop. A failed system call is a SysError carrying the
// operation, the path and errno; everything else that is a failure is an Error.
// Expected outcomes (a deviation, an invalid policy) are values, not exceptions.

#include <cerrno>
#include <stdexcept>
#include <string>
#include <string_view>

namespace goodcop {

// A failure with a finished, user-facing message (lower-case, no final period).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

// A failed system call: "<op> '<path>': <strerror>" (or "<op>: <strerror>" without a path).
class SysError : public Error {
 public:
  SysError(std::string_view op, std::string_view path, int err);
  int code() const noexcept { return err_; }
  const std::string& op() const noexcept { return op_; }
  const std::string& path() const noexcept { return path_; }

 private:
  std::string op_;
  std::string path_;
  int err_;
};

// Throws SysError(op, path, errno) when rc is negative; returns rc otherwise.
// The one helper every system call goes through: check(::mkdirat(...), "mkdirat", path).
template <typename T>
T check(T rc, std::string_view op, std::string_view path = {}) {
  if (rc < 0) throw SysError(op, path, errno);
  return rc;
}

// Throws SysError(op, path, err) when err (a returned error number, as from
// pthread_* or seccomp_*; negative values are negated) is non-zero.
void check_errno(int err, std::string_view op, std::string_view path = {});

// Prepends context to an error message: "restore: " + e.what().
[[noreturn]] void rethrow_with_context(std::string_view context);

}  // namespace goodcop
