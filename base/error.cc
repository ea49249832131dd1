#include "base/error.h"

#include <cstring>
#include <exception>

namespace goodcop {
namespace {

std::string format_sys(std::string_view op, std::string_view path, int err) {
  std::string msg(op);
  if (!path.empty()) {
    msg += " '";
    msg += path;
    msg += "'";
  }
  msg += ": ";
  msg += std::strerror(err);
  return msg;
}

}  // namespace

SysError::SysError(std::string_view op, std::string_view path, int err)
    : Error(format_sys(op, path, err)), op_(op), path_(path), err_(err) {}

void check_errno(int err, std::string_view op, std::string_view path) {
  if (err < 0) err = -err;
  if (err != 0) throw SysError(op, path, err);
}

void rethrow_with_context(std::string_view context) {
  try {
    throw;
  } catch (const SysError& e) {
    // Keep the errno so callers can still branch on it.
    SysError wrapped(std::string(context) + ": " + e.op(), e.path(), e.code());
    throw wrapped;
  } catch (const std::exception& e) {
    throw Error(std::string(context) + ": " + e.what());
  }
}

}  // namespace goodcop
