#pragma once
// Owners for libarchive handles and a streaming SHA-256, the building blocks of
// golden archives and evidence bundles. Every libarchive failure becomes an Error
// carrying libarchive's own message and the path it was working on.

#include <archive.h>
#include <archive_entry.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace goodcop::backups {

// Compression of an archive or bundle (pax tar inside).
enum class Compression { kNone, kZstd, kGzip };

// Streaming SHA-256 (OpenSSL EVP).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // Feeds n zero bytes (a hole of a sparse file) without allocating n bytes.
  void update_zeros(uint64_t n);
  // The digest as 64 lower-case hex digits; the object is finished afterwards.
  std::string hex();

 private:
  void* ctx_;  // EVP_MD_CTX*
};

// SHA-256 of a string, as lower-case hex.
std::string sha256_hex(std::string_view data);

// SHA-256 of a whole file (streamed), as lower-case hex. Throws SysError.
std::string sha256_file(const std::string& path);

// SHA-256 of everything readable from fd (from its current offset), as lower-case hex.
std::string sha256_fd(int fd, std::string_view what);

// Owner of an archive_entry.
struct EntryDeleter {
  void operator()(archive_entry* e) const noexcept { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<archive_entry, EntryDeleter>;
EntryPtr new_entry();

// Owner of one `struct archive*` (reader, writer or disk writer), freed on destruction.
class Archive {
 public:
  enum class Kind { kRead, kWrite, kReadDisk, kWriteDisk };
  explicit Archive(Kind kind);
  ~Archive();
  Archive(const Archive&) = delete;
  Archive& operator=(const Archive&) = delete;
  archive* get() const noexcept { return a_; }

  // Throws Error("<op> '<what>': <libarchive message>") unless rc is ARCHIVE_OK
  // (ARCHIVE_WARN counts as a failure unless allow_warn). Returns rc.
  int check(int rc, std::string_view op, std::string_view what, bool allow_warn = false) const;

 private:
  archive* a_ = nullptr;
  Kind kind_;
};

// A pax writer to a file descriptor (not owned), with the given compression.
std::unique_ptr<Archive> open_pax_writer(int fd, Compression c, std::string_view what);

// A reader of any tar/pax (any compression libarchive knows) from a file descriptor (not owned).
std::unique_ptr<Archive> open_tar_reader(int fd, std::string_view what);

// Writes a whole in-memory member (a regular file, mode 0644 or `mode`, owned by root).
void write_blob_member(Archive& w, const std::string& name, std::string_view data,
                       int64_t mtime, unsigned mode = 0644);

// Reads the data of the current member into a string; refuses more than max_bytes.
std::string read_member_data(Archive& r, uint64_t max_bytes, std::string_view what);

}  // namespace goodcop::backups
