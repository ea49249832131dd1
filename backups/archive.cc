#include "backups/archive.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "base/fd.h"

namespace goodcop::backups {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  auto* c = static_cast<EVP_MD_CTX*>(ctx_);
  if (c == nullptr || EVP_DigestInit_ex(c, EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(c);
    throw Error("sha256: cannot initialise OpenSSL digest");
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::update(const void* data, size_t n) {
  if (n == 0) return;
  if (EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, n) != 1)
    throw Error("sha256: digest update failed");
}

void Sha256::update_zeros(uint64_t n) {
  static const char zeros[65536] = {};
  while (n > 0) {
    size_t k = n > sizeof zeros ? sizeof zeros : static_cast<size_t>(n);
    update(zeros, k);
    n -= k;
  }
}

std::string Sha256::hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &len) != 1)
    throw Error("sha256: digest final failed");
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.hex();
}

std::string sha256_fd(int fd, std::string_view what) {
  Sha256 h;
  static thread_local char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    check(n, "read", what);
    if (n == 0) break;
    h.update(buf, static_cast<size_t>(n));
  }
  return h.hex();
}

std::string sha256_file(const std::string& path) {
  UniqueFd fd = open_fd(path, O_RDONLY | O_NOCTTY | O_NONBLOCK);
  return sha256_fd(fd.get(), path);
}

EntryPtr new_entry() {
  archive_entry* e = archive_entry_new();
  if (e == nullptr) throw Error("archive_entry_new: out of memory");
  return EntryPtr(e);
}

Archive::Archive(Kind kind) : kind_(kind) {
  switch (kind) {
    case Kind::kRead: a_ = archive_read_new(); break;
    case Kind::kWrite: a_ = archive_write_new(); break;
    case Kind::kReadDisk: a_ = archive_read_disk_new(); break;
    case Kind::kWriteDisk: a_ = archive_write_disk_new(); break;
  }
  if (a_ == nullptr) throw Error("libarchive: out of memory");
}

Archive::~Archive() {
  // *_free also closes; errors at this point have no one to go to.
  if (kind_ == Kind::kRead || kind_ == Kind::kReadDisk) archive_read_free(a_);
  else archive_write_free(a_);
}

int Archive::check(int rc, std::string_view op, std::string_view what, bool allow_warn) const {
  if (rc == ARCHIVE_OK || (allow_warn && rc == ARCHIVE_WARN)) return rc;
  const char* msg = archive_error_string(a_);
  std::string m(op);
  if (!what.empty()) {
    m += " '";
    m += what;
    m += "'";
  }
  m += ": ";
  m += msg != nullptr ? msg : "libarchive error";
  // libarchive's own text for a failed write is just "Write error": say why (ENOSPC...).
  int err = archive_errno(a_);
  if (err > 0 && err < 4096) {
    std::string why = std::strerror(err);
    if (m.find(why) == std::string::npos) m += " (" + why + ")";
  }
  throw Error(m);
}

std::unique_ptr<Archive> open_pax_writer(int fd, Compression c, std::string_view what) {
  auto w = std::make_unique<Archive>(Archive::Kind::kWrite);
  // pax (interchange), not pax_restricted: restricted drops sub-second times, and a
  // restored tree must match its manifest's mtimes to the nanosecond. Extended headers
  // also carry long names, big ids, xattrs, ACLs and sparse maps.
  w->check(archive_write_set_format_pax(w->get()), "archive format", what);
  switch (c) {
    case Compression::kNone: break;
    case Compression::kZstd:
      w->check(archive_write_add_filter_zstd(w->get()), "archive zstd", what);
      break;
    case Compression::kGzip:
      w->check(archive_write_add_filter_gzip(w->get()), "archive gzip", what);
      break;
  }
  // No padding of the last block beyond tar's own: the digest is of exactly what we wrote.
  w->check(archive_write_set_bytes_in_last_block(w->get(), 1), "archive block", what);
  w->check(archive_write_open_fd(w->get(), fd), "archive open", what);
  return w;
}

std::unique_ptr<Archive> open_tar_reader(int fd, std::string_view what) {
  auto r = std::make_unique<Archive>(Archive::Kind::kRead);
  r->check(archive_read_support_format_tar(r->get()), "archive format", what);
  r->check(archive_read_support_filter_all(r->get()), "archive filters", what);
  r->check(archive_read_open_fd(r->get(), fd, 1 << 16), "archive open", what);
  return r;
}

void write_blob_member(Archive& w, const std::string& name, std::string_view data,
                       int64_t mtime, unsigned mode) {
  EntryPtr e = new_entry();
  archive_entry_set_pathname(e.get(), name.c_str());
  archive_entry_set_filetype(e.get(), AE_IFREG);
  archive_entry_set_perm(e.get(), static_cast<mode_t>(mode));
  archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
  archive_entry_set_mtime(e.get(), mtime, 0);
  archive_entry_set_uid(e.get(), 0);
  archive_entry_set_gid(e.get(), 0);
  w.check(archive_write_header(w.get(), e.get()), "archive write header", name);
  size_t off = 0;
  while (off < data.size()) {
    la_ssize_t n = archive_write_data(w.get(), data.data() + off, data.size() - off);
    if (n <= 0) w.check(ARCHIVE_FATAL, "archive write", name);
    off += static_cast<size_t>(n);
  }
}

std::string read_member_data(Archive& r, uint64_t max_bytes, std::string_view what) {
  std::string out;
  const void* buf = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  for (;;) {
    int rc = archive_read_data_block(r.get(), &buf, &size, &offset);
    if (rc == ARCHIVE_EOF) break;
    r.check(rc, "archive read", what, true);
    uint64_t end = static_cast<uint64_t>(offset) + size;
    if (offset < 0 || end > max_bytes)
      throw Error("archive member '" + std::string(what) + "': larger than " +
                  std::to_string(max_bytes) + " bytes");
    if (out.size() < static_cast<size_t>(offset)) out.resize(static_cast<size_t>(offset), '\0');
    out.replace(static_cast<size_t>(offset), size, static_cast<const char*>(buf), size);
  }
  return out;
}

}  // namespace goodcop::backups
