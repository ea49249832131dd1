// Hashing through a mapping (integrity/mapped.h): the same digests as read(2),
// and a file truncated under the mapping — which raises SIGBUS on the next touch
// of a page past its new end — is reported as changed, never kills the process.
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "base/error.h"
#include "base/fd.h"
#include "base/scope_exit.h"
#include "integrity/hash.h"
#include "integrity/mapped.h"
#include "integrity/scan.h"
#include "integrity/verify.h"
#include "tests/support/support.h"

using namespace goodcop;
using namespace goodcop::test;
namespace in = goodcop::integrity;

namespace {

// Bytes that differ page by page, so a page read twice or skipped changes the digest.
std::string pattern(size_t n, char salt) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + i / 4096 + static_cast<size_t>(salt)) & 0xff);
  return s;
}

struct stat stat_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st;
}

}  // namespace

TEST_CASE("a large file hashed through a mapping has the digest read(2) gives") {
  TempDir dir;
  // Not a multiple of the page size or of a window: the tail is hashed too.
  const std::string data = pattern((size_t{3} << 20) + 4093, 7);
  write_text(dir / "big", data);
  REQUIRE(in::worth_mapping(stat_of(dir / "big")));
  UniqueFd fd = open_fd(dir / "big", O_RDONLY);
  in::FileHasher h;
  std::array<uint8_t, 32> mapped{}, read{};
  CHECK(h.hash(fd.get(), data.size(), mapped, "big", true));
  CHECK(h.hash(fd.get(), data.size(), read, "big", false));
  CHECK(in::hex(mapped) == in::hex(in::sha256_of(data)));
  CHECK(in::hex(read) == in::hex(mapped));
  // Expecting another size: the mapped path says so like the read path does.
  REQUIRE(::lseek(fd.get(), 0, SEEK_SET) == 0);
  CHECK_FALSE(h.hash(fd.get(), data.size() - 1, mapped, "big", true));
}

TEST_CASE("small and sparse files are not mapped") {
  TempDir dir;
  write_text(dir / "small", pattern(in::kMapMinBytes - 1, 1));
  CHECK_FALSE(in::worth_mapping(stat_of(dir / "small")));
  // On tmpfs a read fault on a hole allocates a page: a planted sparse file of a
  // terabyte must be read(2) (zero page), never mapped.
  UniqueFd fd = open_fd(dir / "sparse", O_WRONLY | O_CREAT, 0644);
  REQUIRE(::ftruncate(fd.get(), off_t{1} << 30) == 0);
  CHECK_FALSE(in::worth_mapping(stat_of(dir / "sparse")));
}

TEST_CASE("a file truncated under its mapping is reported shrunk, and SIGBUS does not kill us") {
  TempDir dir;
  const std::string data = pattern(size_t{8} << 20, 3);
  write_text(dir / "f", data);
  UniqueFd fd = open_fd(dir / "f", O_RDWR);
  // What a jailed process does between the walk's fstat and the digest.
  REQUIRE(::ftruncate(fd.get(), 4096) == 0);
  uint64_t before = in::sigbus_caught();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ScopeExit free_ctx([ctx] { EVP_MD_CTX_free(ctx); });
  REQUIRE(EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1);
  CHECK(in::hash_mapped(fd.get(), data.size(), ctx, "f") == in::MapResult::kShrunk);
  CHECK(in::sigbus_caught() == before + 1);
  // Through the hasher: "not the expected bytes", and the hasher still works after.
  in::FileHasher h;
  std::array<uint8_t, 32> out{};
  CHECK_FALSE(h.hash(fd.get(), data.size(), out, "f", true));
  CHECK(in::sigbus_caught() == before + 2);
  REQUIRE(::pwrite(fd.get(), data.data(), data.size(), 0) == static_cast<ssize_t>(data.size()));
  CHECK(h.hash(fd.get(), data.size(), out, "f", true));
  CHECK(in::hex(out) == in::hex(in::sha256_of(data)));
}

TEST_CASE("a thread with every signal blocked (as Boost.Asio's pool makes them) survives a truncation under its mapping") {
  TempDir dir;
  const std::string data = pattern(size_t{2} << 20, 4);
  write_text(dir / "f", data);
  UniqueFd fd = open_fd(dir / "f", O_RDWR);
  REQUIRE(::ftruncate(fd.get(), 0) == 0);
  uint64_t before = in::sigbus_caught();
  bool hashed = true;
  std::thread t;
  {
    // Blocked here, inherited by the thread (asio::detail::signal_blocker does this).
    sigset_t all, old;
    sigfillset(&all);
    REQUIRE(::pthread_sigmask(SIG_SETMASK, &all, &old) == 0);
    ScopeExit restore([&] { ::pthread_sigmask(SIG_SETMASK, &old, nullptr); });
    t = std::thread([&] {
      in::FileHasher h;
      std::array<uint8_t, 32> out{};
      hashed = h.hash(fd.get(), data.size(), out, "f", true);
    });
  }
  t.join();
  CHECK_FALSE(hashed);
  CHECK(in::sigbus_caught() == before + 1);
}

TEST_CASE("a shrink inside the last mapped page reads as zeros: the size check after the digest catches it") {
  TempDir dir;
  const std::string data = pattern((size_t{1} << 20) + 3000, 5);
  write_text(dir / "f", data);
  UniqueFd fd = open_fd(dir / "f", O_RDWR);
  REQUIRE(::ftruncate(fd.get(), static_cast<off_t>(data.size() - 1000)) == 0);
  in::FileHasher h;
  std::array<uint8_t, 32> out{};
  uint64_t before = in::sigbus_caught();
  CHECK_FALSE(h.hash(fd.get(), data.size(), out, "f", true));
  CHECK(in::sigbus_caught() == before);  // no fault: the page is still there
}

TEST_CASE("an attacker truncating files under build and verify never crashes them nor gets a shrunk file accepted") {
  TempDir tree;
  const size_t kSize = size_t{4} << 20;
  const std::string data = pattern(kSize, 9);
  for (const char* n : {"a", "b"}) write_text(tree / n, data);
  UniqueFd root = in::open_tree(tree.path());
  in::Manifest baseline = in::build_manifest(root.get());
  const std::string good = in::hex(in::sha256_of(data));
  REQUIRE(baseline.find("a")->size == kSize);

  std::atomic<bool> stop{false};
  std::atomic<long> cuts{0};
  std::thread attacker([&] {
    UniqueFd a = open_fd(tree / "a", O_RDWR), b = open_fd(tree / "b", O_RDWR);
    while (!stop) {
      for (int fd : {a.get(), b.get()}) {
        // Cut, then write the bytes back (not ftruncate up: holes are not mapped).
        if (::ftruncate(fd, 4096) != 0) return;
        if (::pwrite(fd, data.data(), data.size(), 0) != static_cast<ssize_t>(data.size())) return;
        ++cuts;
      }
    }
  });
  ScopeExit join([&] {
    stop = true;
    attacker.join();
  });

  uint64_t before = in::sigbus_caught();
  int builds = 0, build_errors = 0, verifies = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      in::Manifest m = in::build_manifest(root.get());
      ++builds;
      // The file is always a prefix of `data` (cut to one page, then written back
      // from the start): what was recorded is the digest of exactly the recorded size.
      for (const in::Entry& e : m.entries()) {
        if (e.type != in::EntryType::kFile) continue;
        REQUIRE(e.size <= kSize);
        CHECK(in::hex(e.sha256) == in::hex(in::sha256_of(std::string_view(data).substr(0, e.size))));
      }
    } catch (const in::TreeChanged& e) {  // any other error fails the test
      ++build_errors;
      std::string what = e.what();
      INFO(what);
      CHECK((what.find("changed while it was hashed") != std::string::npos ||
             what.find("changed during the scan") != std::string::npos));
    }
    in::VerifyOptions o;
    o.mode = in::VerifyMode::kFull;
    in::Diff d = in::verify(root.get(), baseline, o);
    ++verifies;
    for (const in::Change& c : d.changes) {
      INFO(c.path);
      CHECK((c.path == "a" || c.path == "b"));
      // Hashed while short or growing: never the good digest with a bad size.
      if (c.new_info && c.new_info->sha256 == good) CHECK(c.new_info->size == kSize);
    }
  }
  INFO("builds " << builds << ", errors " << build_errors << ", verifies " << verifies << ", cuts "
                 << cuts << ", SIGBUS caught " << in::sigbus_caught() - before);
  CHECK(cuts > 10);
  CHECK(verifies > 5);
  CHECK(build_errors > 0);  // the cuts were seen, not hashed over
}
