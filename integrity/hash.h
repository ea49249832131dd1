#pragma once
// SHA-256 (OpenSSL EVP) of memory and of open files, and the small thread pool
// that hashes many files in parallel. Internal to integrity/.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace goodcop::integrity {

// A buffer that starts on a page boundary, for read(2) out of the page cache.
// The kernel copies with `rep movsb`, which on this machine's AMD EPYC ran at a
// third of its speed when the destination sat a few bytes past the source's
// page offset: a malloc'ed 128 KiB block is mmap'ed and starts 16 bytes into a
// page, the page cache's pages start at 0 (build system time 3.5 -> 2.7 s on
// 200,000 files; 16 bytes off: 2.85 s, 0, 64 or 128 off: 2.0-2.15 s).
struct FreeDeleter {
  void operator()(char* p) const;
};
using PageBuffer = std::unique_ptr<char[], FreeDeleter>;
PageBuffer page_buffer(size_t bytes);

// SHA-256 of a byte string.
std::array<uint8_t, 32> sha256_of(std::string_view data);

// An incremental SHA-256 of bytes given in pieces.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  // The digest of everything given so far; the object is spent.
  std::array<uint8_t, 32> final();

 private:
  EVP_MD_CTX* ctx_;
};

// A per-thread hasher: one EVP context and one large read buffer, reused.
class FileHasher {
 public:
  FileHasher();
  ~FileHasher();
  FileHasher(const FileHasher&) = delete;
  FileHasher& operator=(const FileHasher&) = delete;

  // Hashes fd from its start, reading at most expect+1 bytes: a file that grew
  // past `expect` is not read further (a jail can grow a file forever).
  // Returns false when the bytes read differ in count from `expect`. Throws SysError.
  // With `map` (worth_mapping() of the file's fstat), a large file is hashed through
  // a guarded mapping (mapped.h) and its size checked again afterwards.
  bool hash(int fd, uint64_t expect, std::array<uint8_t, 32>& out, std::string_view what,
            bool map = false);

 private:
  struct Impl;
  Impl* impl_;
};

// Runs fn(i, worker) for i in [0, n) on `threads` threads, worker in [0, threads)
// naming the thread (for per-thread state); fn must be thread-safe.
// `tick` runs on the calling thread about every 200 ms until all are done.
// The first exception thrown by fn is rethrown after all threads stop.
void parallel_for(size_t n, unsigned threads, const std::function<void(size_t, unsigned)>& fn,
                  const std::function<void()>& tick = {});

}  // namespace goodcop::integrity
