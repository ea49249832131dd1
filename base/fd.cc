#include "base/fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "base/error.h"
#include "base/scope_exit.h"

namespace goodcop {

void UniqueFd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);  // close(2): never retry on EINTR on Linux
  fd_ = fd;
}

UniqueFd open_fd(const std::string& path, int flags, mode_t mode) {
  return UniqueFd(check(::open(path.c_str(), flags | O_CLOEXEC, mode), "open", path));
}

UniqueFd openat_fd(int dirfd, const std::string& path, int flags, mode_t mode) {
  return UniqueFd(check(::openat(dirfd, path.c_str(), flags | O_CLOEXEC, mode), "openat", path));
}

UniqueFd open_dir_beneath(int dirfd, const std::string& name) {
  return openat_fd(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
}

struct stat fstat_fd(int fd, std::string_view what) {
  struct stat st {};
  check(::fstat(fd, &st), "fstat", what);
  return st;
}

std::string read_file(const std::string& path, size_t max_bytes) {
  UniqueFd fd = open_fd(path, O_RDONLY | O_NOCTTY | O_NONBLOCK);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    check(n, "read", path);
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) throw SysError("read", path, EFBIG);
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

void write_all(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    check(n, "write", what);
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
  write_file_atomic(
      path, [&](int fd, const std::string& tmp) { write_all(fd, data, tmp); }, mode);
}

void write_file_atomic(const std::string& path,
                       const std::function<void(int fd, const std::string& tmp)>& write,
                       mode_t mode) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  UniqueFd fd = open_fd(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode);
  ScopeExit unlink_tmp([&] { ::unlink(tmp.c_str()); });
  write(fd.get(), tmp);
  check(::fsync(fd.get()), "fsync", tmp);
  fd.reset();
  check(::rename(tmp.c_str(), path.c_str()), "rename", path);
  unlink_tmp.dismiss();
  UniqueFd dfd = open_fd(dir, O_RDONLY | O_DIRECTORY);
  check(::fsync(dfd.get()), "fsync", dir);
}

}  // namespace goodcop
