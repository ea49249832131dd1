#include "integrity/mapped.h"

#include <openssl/evp.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>

#include "base/error.h"
#include "base/scope_exit.h"

namespace goodcop::integrity {
namespace {

// 8 MiB: a few mmap/munmap pairs per large file, and at most 8 MiB of mapped
// page cache per thread in the resident set (peak RSS is compared with AIDE's).
constexpr uint64_t kWindow = uint64_t{8} << 20;

// The mapping one thread is hashing right now, and where to jump when it faults.
struct Guard {
  sigjmp_buf env;
  uintptr_t lo = 0, hi = 0;
};

// initial-exec TLS: reading it in a signal handler takes no lock and no allocation.
__attribute__((tls_model("initial-exec"))) thread_local Guard* t_guard = nullptr;

struct sigaction g_prev {};
std::once_flag g_installed;
std::atomic<uint64_t> g_caught{0};

// SIGBUS: a fault inside the mapping this thread is hashing jumps back to
// update_guarded(); anything else goes where it went before we were installed
// (for the default action: restore it and return, the access faults again).
extern "C" void on_sigbus(int sig, siginfo_t* si, void* uc) {
  Guard* g = t_guard;
  auto addr = reinterpret_cast<uintptr_t>(si->si_addr);
  // si_code > 0: raised by the kernel for a fault, not sent by kill(2) or tgkill(2).
  if (g != nullptr && si->si_code > 0 && addr >= g->lo && addr < g->hi) {
    g_caught.fetch_add(1, std::memory_order_relaxed);
    siglongjmp(g->env, 1);
  }
  if ((g_prev.sa_flags & SA_SIGINFO) != 0 && g_prev.sa_sigaction != nullptr) {
    g_prev.sa_sigaction(sig, si, uc);
    return;
  }
  if (g_prev.sa_handler != SIG_DFL && g_prev.sa_handler != SIG_IGN && g_prev.sa_handler != nullptr) {
    g_prev.sa_handler(sig);
    return;
  }
  ::signal(SIGBUS, SIG_DFL);
}

void install_handler() {
  struct sigaction sa {};
  sa.sa_sigaction = on_sigbus;
  // SA_NODEFER: SIGBUS stays unblocked after the jump (sigsetjmp(env, 0) saves
  // no mask, so no sigprocmask per window); a synchronous SIGBUS while blocked
  // would kill the process (the kernel forces the default action).
  sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  check(::sigaction(SIGBUS, &sa, &g_prev), "sigaction", "SIGBUS");
}

// Feeds [p, p + len) into ctx; false when the mapping faulted (the file shrank).
// noinline: the frame that holds the jump buffer stays live for the whole digest.
[[gnu::noinline]] bool update_guarded(EVP_MD_CTX* ctx, const char* p, size_t len) {
  Guard g;
  g.lo = reinterpret_cast<uintptr_t>(p);
  g.hi = g.lo + len;
  if (sigsetjmp(g.env, 0) != 0) {
    t_guard = nullptr;
    return false;
  }
  t_guard = &g;
  // The guard must be visible to the handler before the first access, and
  // cleared only after the last one.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  int rc = EVP_DigestUpdate(ctx, p, len);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_guard = nullptr;
  if (rc != 1) throw Error("openssl: update failed");
  return true;
}

}  // namespace

bool worth_mapping(const struct stat& st) {
  if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) < kMapMinBytes) return false;
  return static_cast<uint64_t>(st.st_blocks) * 512 >= static_cast<uint64_t>(st.st_size);
}

MapResult hash_mapped(int fd, uint64_t size, EVP_MD_CTX* ctx, std::string_view what) {
  std::call_once(g_installed, install_handler);
  // A fault signal that is blocked is not delivered to a handler: the kernel
  // resets it to the default action and kills the process (force_sig_info).
  // Threads inherit their creator's mask, and Boost.Asio's thread_pool — the
  // daemon's work pool, whose threads start the walker threads — creates its
  // threads with every signal blocked. Unblock SIGBUS in this thread, once.
  thread_local bool unblocked = false;
  if (!unblocked) {
    sigset_t bus;
    sigemptyset(&bus);
    sigaddset(&bus, SIGBUS);
    int rc = ::pthread_sigmask(SIG_UNBLOCK, &bus, nullptr);
    if (rc != 0) throw SysError("pthread_sigmask", "SIGBUS", rc);
    unblocked = true;
  }
  for (uint64_t off = 0; off < size; off += kWindow) {
    auto len = static_cast<size_t>(std::min(kWindow, size - off));
    // MAP_POPULATE: the page tables are filled in one call instead of a fault
    // per 64 KiB (fault-around); it stops quietly at a new end of file.
    void* p = ::mmap(nullptr, len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, static_cast<off_t>(off));
    if (p == MAP_FAILED) {
      if (off == 0 && (errno == ENODEV || errno == EACCES || errno == EPERM)) return MapResult::kUnmappable;
      throw SysError("mmap", what, errno);
    }
    bool ok;
    {
      ScopeExit unmap([p, len] { ::munmap(p, len); });
      ok = update_guarded(ctx, static_cast<const char*>(p), len);
    }
    if (!ok) return MapResult::kShrunk;
  }
  return MapResult::kDone;
}

uint64_t sigbus_caught() { return g_caught.load(std::memory_order_relaxed); }

}  // namespace goodcop::integrity
