#include "integrity/hash.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <new>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "integrity/mapped.h"

namespace goodcop::integrity {
namespace {

// Fetched once: EVP_get_digestbyname per call costs a provider lookup each time.
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) throw Error("openssl: cannot fetch SHA256");
  return md;
}

// 128 KiB: big enough to amortise the read(2), small enough that SHA-256 reads
// the bytes from L2 right after the kernel copied them there (1 MiB per thread
// spilled out of this machine's 512 KiB L2 and cost a second trip to memory).
constexpr size_t kBufSize = size_t{128} << 10;

}  // namespace

void FreeDeleter::operator()(char* p) const { std::free(p); }

PageBuffer page_buffer(size_t bytes) {
  constexpr size_t kPage = 4096;
  void* p = std::aligned_alloc(kPage, (std::max<size_t>(bytes, 1) + kPage - 1) / kPage * kPage);
  if (p == nullptr) throw std::bad_alloc();
  return PageBuffer(static_cast<char*>(p));
}

std::array<uint8_t, 32> sha256_of(std::string_view data) {
  std::array<uint8_t, 32> out{};
  unsigned len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, sha256_md(), nullptr) != 1)
    throw Error("openssl: sha256 failed");
  return out;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) throw Error("openssl: out of memory");
  if (EVP_DigestInit_ex(ctx_, sha256_md(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx_);
    throw Error("openssl: init failed");
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::update(std::string_view data) {
  if (EVP_DigestUpdate(ctx_, data.data(), data.size()) != 1) throw Error("openssl: update failed");
}

std::array<uint8_t, 32> Sha256::final() {
  std::array<uint8_t, 32> out{};
  unsigned len = 0;
  if (EVP_DigestFinal_ex(ctx_, out.data(), &len) != 1) throw Error("openssl: final failed");
  return out;
}

struct FileHasher::Impl {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  PageBuffer buf = page_buffer(kBufSize);
};

FileHasher::FileHasher() : impl_(new Impl) {
  if (impl_->ctx == nullptr) {
    delete impl_;
    throw Error("openssl: out of memory");
  }
}

FileHasher::~FileHasher() {
  EVP_MD_CTX_free(impl_->ctx);
  delete impl_;
}

bool FileHasher::hash(int fd, uint64_t expect, std::array<uint8_t, 32>& out, std::string_view what,
                      bool map) {
  if (EVP_DigestInit_ex(impl_->ctx, sha256_md(), nullptr) != 1) throw Error("openssl: init failed");
  if (map) {
    MapResult r = hash_mapped(fd, expect, impl_->ctx, what);
    if (r == MapResult::kShrunk) return false;
    if (r == MapResult::kDone) {
      unsigned len = 0;
      if (EVP_DigestFinal_ex(impl_->ctx, out.data(), &len) != 1) throw Error("openssl: final failed");
      // The mapping shows the first `expect` bytes whatever the size is now, and a
      // shrink inside the last page reads as zeros, not SIGBUS: the size after the
      // digest tells whether those were the file's bytes (read(2) sees it by count).
      return static_cast<uint64_t>(fstat_fd(fd, what).st_size) == expect;
    }
    // kUnmappable: read it.
  }
  if (expect > kBufSize) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  uint64_t total = 0;
  const uint64_t cap = expect + 1;
  for (;;) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(kBufSize, cap - total));
    if (want == 0) break;
    ssize_t n = ::read(fd, impl_->buf.get(), want);
    if (n < 0 && errno == EINTR) continue;
    check(n, "read", what);
    if (n == 0) break;
    total += static_cast<uint64_t>(n);
    if (EVP_DigestUpdate(impl_->ctx, impl_->buf.get(), static_cast<size_t>(n)) != 1)
      throw Error("openssl: update failed");
    // A short read of a regular file on a local filesystem is its end (read(2)):
    // at the expected size, skip the read that would return 0 (one syscall per
    // file). A file that grew after the caller's fstat moved its ctime: the next
    // quick check sees that.
    if (static_cast<size_t>(n) < want && total == expect) break;
  }
  unsigned len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx, out.data(), &len) != 1) throw Error("openssl: final failed");
  return total == expect;
}

void parallel_for(size_t n, unsigned threads, const std::function<void(size_t, unsigned)>& fn,
                  const std::function<void()>& tick) {
  if (n == 0) return;
  threads = std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(std::min<size_t>(n, 256))));
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first;
  std::mutex mu;
  std::condition_variable cv;
  unsigned running = threads;
  auto worker = [&](unsigned w) {
    for (;;) {
      if (failed.load(std::memory_order_relaxed)) break;
      size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= n) break;
      try {
        fn(i, w);
      } catch (...) {
        std::lock_guard lk(mu);
        if (!first) first = std::current_exception();
        failed = true;
      }
    }
    std::lock_guard lk(mu);
    if (--running == 0) cv.notify_all();
  };
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker, t);
  {
    std::unique_lock lk(mu);
    while (running > 0) {
      cv.wait_for(lk, std::chrono::milliseconds(200));
      if (tick && running > 0) {
        lk.unlock();
        tick();
        lk.lock();
      }
    }
  }
  for (auto& t : pool) t.join();
  if (first) std::rethrow_exception(first);
}

}  // namespace goodcop::integrity
