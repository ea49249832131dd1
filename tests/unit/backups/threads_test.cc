// Extraction from a multi-threaded process (the daemon calls restores from pool
// threads): the helper is an exec'd goodcop, never a bare fork of this process, and
// restores and lower-tree preparations run side by side while other threads allocate.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <exception>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "backups/extract.h"
#include "backups/overlay.h"
#include "backups/restore.h"
#include "backups/seal.h"
#include "backups/spawn.h"
#include "base/error.h"
#include "base/fd.h"
#include "tests/support/support.h"
#include "tests/unit/backups/helpers.h"

namespace bk = goodcop::backups;
using goodcop::test::snapshot;
using goodcop::test::TempDir;
using goodcop::test::write_text;

namespace {

// Pids whose parent is this process.
std::vector<pid_t> my_children() {
  std::vector<pid_t> out;
  for (pid_t pid : goodcop::test::process_ids()) {
    std::string stat;
    try {
      stat = goodcop::read_file("/proc/" + std::to_string(pid) + "/stat");
    } catch (const goodcop::Error&) {
      continue;  // gone meanwhile
    }
    // "pid (comm) state ppid ...": comm may hold spaces, so parse after the last ')'.
    size_t rp = stat.rfind(')');
    if (rp == std::string::npos) continue;
    long ppid = 0;
    char state = 0;
    if (std::sscanf(stat.c_str() + rp + 1, " %c %ld", &state, &ppid) == 2 && ppid == ::getpid())
      out.push_back(pid);
  }
  return out;
}

std::string umask_now() {
  std::string s = goodcop::read_file("/proc/self/status");
  size_t at = s.find("Umask:\t");
  return at == std::string::npos ? "" : s.substr(at + 7, 4);
}

void make_tree(const std::string& d, const std::string& tag) {
  REQUIRE(::mkdir(d.c_str(), 0755) == 0);
  REQUIRE(::mkdir((d + "/etc").c_str(), 0755) == 0);
  for (int i = 0; i < 20; ++i)
    write_text(d + "/etc/f" + std::to_string(i), tag + std::string(size_t(i) * 97, 'x'));
  REQUIRE(::symlink("f1", (d + "/etc/link").c_str()) == 0);
}

}  // namespace

TEST_CASE("extract: the helper is the goodcop binary, exec'd, single-threaded",
          "[backups][threads]") {
  TempDir t;
  std::string arc = t / "a.tar", fifo = t / "fifo", target = t / "target";
  goodcop::test::make_archive(arc, {goodcop::test::dir("etc"), goodcop::test::file("etc/x", "x\n")},
                              false);
  std::string bytes = goodcop::read_file(arc);
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  REQUIRE(::mkdir(target.c_str(), 0755) == 0);
  // The archive comes through a fifo, so the helper waits for it, alive, while we look at it.
  std::promise<void> go;
  auto writer = std::async(std::launch::async, [&] {
    goodcop::UniqueFd w = goodcop::open_fd(fifo, O_WRONLY);
    go.get_future().wait();
    goodcop::write_all(w.get(), bytes, "fifo");
  });
  auto extraction =
      std::async(std::launch::async, [&] { return bk::extract_archive(fifo, target, {}); });
  pid_t helper = -1;
  std::string exe, status;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (helper < 0 && std::chrono::steady_clock::now() < deadline) {
    for (pid_t p : my_children()) {
      std::string proc = "/proc/" + std::to_string(p);
      try {
        std::string cmd = goodcop::read_file(proc + "/cmdline");
        if (cmd.find(std::string("\0__backups-extract\0", 19)) == std::string::npos) continue;
        // Looked at while it waits for the archive: it cannot have exited yet.
        char buf[PATH_MAX] = {};
        if (::readlink((proc + "/exe").c_str(), buf, sizeof buf - 1) > 0) exe = buf;
        status = goodcop::read_file(proc + "/status");
        helper = p;
      } catch (const goodcop::Error&) {
      }
    }
    if (helper < 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  go.set_value();
  char want[PATH_MAX] = {};
  REQUIRE(::realpath(GOODCOP_CORE_BINARY, want) != nullptr);
  bk::ExtractStats st{};
  writer.get();
  st = extraction.get();
  // A fork of this test binary would show the test binary here.
  CHECK(helper > 0);
  CHECK(exe == std::string(want));
  CHECK(status.find("\nThreads:\t1\n") != std::string::npos);
  CHECK(st.entries == 2);
  CHECK(goodcop::read_file(target + "/etc/x") == "x\n");
}

TEST_CASE("restore: restores and lower trees from several threads while others allocate",
          "[backups][threads]") {
  TempDir t;
  std::string a = t / "a", b = t / "b", arc_a = t / "a.tar.zst", arc_b = t / "b.tar.gz",
              lowers = t / "lower";
  make_tree(a, "A");
  make_tree(b, "B");
  bk::SealResult sa = bk::seal(a, arc_a);
  bk::SealResult sb = bk::seal(b, arc_b, {bk::Compression::kGzip});
  auto snap_a = snapshot(a), snap_b = snapshot(b);
  const std::string mask = umask_now();

  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> failures;
  auto fail = [&](const std::string& what) {
    std::lock_guard lock(mu);
    failures.push_back(what);
  };
  // Allocators: many small and large blocks, freed out of order, as the daemon's loop does.
  std::vector<std::thread> noise;
  for (int i = 0; i < 3; ++i) {
    noise.emplace_back([&, i] {
      std::mt19937 rng(static_cast<unsigned>(i));
      std::vector<std::string> keep(64);
      uint64_t rounds = 0;
      while (!stop.load()) {
        keep[rng() % keep.size()] = std::string(1 + rng() % 70000, 'm');
        auto* p = new std::vector<int>(rng() % 4096);
        delete p;
        // The process umask never changes: libarchive's umask dance stays in the helper.
        if (++rounds % 256 == 0 && umask_now() != mask) fail("umask changed to " + umask_now());
      }
    });
  }
  std::vector<std::thread> workers;
  std::vector<std::string> lower_paths(6);
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      std::string jail = t / ("jail" + std::to_string(w));
      try {
        for (int r = 0; r < 4; ++r) {
          bool use_a = (r + w) % 2 == 0;
          bk::restore_plain(use_a ? arc_a : arc_b, jail);
          if (snapshot(jail) != (use_a ? snap_a : snap_b)) fail(jail + ": wrong tree");
        }
      } catch (const std::exception& e) {
        fail(e.what());
      }
    });
  }
  for (int w = 0; w < 6; ++w) {
    workers.emplace_back([&, w] {
      try {
        // Every thread prepares both versions: the same lower trees, raced for.
        lower_paths[static_cast<size_t>(w)] = bk::prepare_lower(w % 2 ? arc_a : arc_b, lowers);
        bk::prepare_lower(w % 2 ? arc_b : arc_a, lowers);
      } catch (const std::exception& e) {
        fail(e.what());
      }
    });
  }
  for (auto& w : workers) w.join();
  stop = true;
  for (auto& n : noise) n.join();
  CHECK(failures == std::vector<std::string>{});
  for (size_t w = 0; w < lower_paths.size(); ++w)
    CHECK(lower_paths[w] == lowers + "/" + (w % 2 ? sa.sha256 : sb.sha256));
  CHECK(goodcop::test::list_dir(lowers) == (sa.sha256 < sb.sha256
                                                ? std::vector<std::string>{sa.sha256, sb.sha256}
                                                : std::vector<std::string>{sb.sha256, sa.sha256}));
  CHECK(snapshot(lowers + "/" + sa.sha256) == snap_a);
  CHECK(snapshot(lowers + "/" + sb.sha256) == snap_b);
  CHECK(my_children().empty());
  CHECK(umask_now() == mask);
}
