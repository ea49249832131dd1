#pragma once
// Hashing a file through a read-only mapping of the page cache instead of
// read(2) into a buffer: no copy of the bytes (a third of a build's kernel time
// was copy_to_user). A jailed process can truncate the file while it is mapped,
// and touching a mapped page past the new end raises SIGBUS (mmap(2)); the
// digest runs under a per-thread guard that turns that SIGBUS into "the file
// shrank" instead of killing the daemon. Internal to integrity/.

#include <sys/stat.h>

#include <cstdint>
#include <string_view>

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace goodcop::integrity {

// Files below this size are read(2): for them mmap + munmap (and its TLB flush)
// costs more than copying the bytes.
inline constexpr uint64_t kMapMinBytes = uint64_t{256} << 10;

// Whether a file as fstat saw it is worth mapping and safe to: large enough, and
// without holes (on tmpfs a read fault on a hole allocates a page — a planted
// sparse file would fill memory — where read(2) hands out the zero page).
bool worth_mapping(const struct stat& st);

enum class MapResult : uint8_t {
  kDone,        // the first `size` bytes went into ctx
  kShrunk,      // the file shrank under the mapping (SIGBUS caught): ctx is garbage
  kUnmappable,  // this file cannot be mapped (mmap refused it): read it instead
};

// Feeds the first `size` bytes of fd into ctx (initialised by the caller) through
// read-only mappings of at most 8 MiB each. Throws SysError (an mmap after the
// first window), Error (openssl).
MapResult hash_mapped(int fd, uint64_t size, EVP_MD_CTX* ctx, std::string_view what);

// For tests: true once the SIGBUS guard has turned a fault into kShrunk.
uint64_t sigbus_caught();

}  // namespace goodcop::integrity
