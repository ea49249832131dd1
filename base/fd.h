#pragma once
// UniqueFd: the owner of one file descriptor, and openat helpers for walking
// trees that may belong to a hostile jail.

#include <sys/stat.h>

#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace goodcop {

// Owns a file descriptor; closes it on destruction. -1 means empty.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

// open(2) with O_CLOEXEC added; throws SysError on failure.
UniqueFd open_fd(const std::string& path, int flags, mode_t mode = 0);

// openat(2) with O_CLOEXEC added; throws SysError on failure (`what` names the path in errors).
UniqueFd openat_fd(int dirfd, const std::string& path, int flags, mode_t mode = 0);

// Opens `name` (one path component) below `dirfd` as a directory without
// following a symlink (O_DIRECTORY|O_NOFOLLOW).
UniqueFd open_dir_beneath(int dirfd, const std::string& name);

// fstat(2); throws SysError.
struct stat fstat_fd(int fd, std::string_view what = {});

// Reads a whole (small) file; throws SysError. Refuses files above max_bytes.
std::string read_file(const std::string& path, size_t max_bytes = 64u << 20);

// Writes data to path atomically: a temporary file in the same directory,
// fsync, rename over path, fsync of the directory. Throws SysError.
void write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644);
// The same, with what is written produced by `write(fd, tmp_path)` piece by piece (a large
// file need not be held whole in memory first).
void write_file_atomic(const std::string& path,
                       const std::function<void(int fd, const std::string& tmp)>& write,
                       mode_t mode = 0644);

// Writes all of data to fd, retrying on EINTR and short writes; throws SysError.
void write_all(int fd, std::string_view data, std::string_view what = {});

}  // namespace goodcop
