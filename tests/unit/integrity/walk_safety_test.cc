// The walk as an attacker sees it: symlinks swapped in mid-walk must never make
// the host read outside the tree.
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "base/error.h"
#include "base/scope_exit.h"
#include "integrity/hash.h"
#include "integrity/scan.h"
#include "integrity/verify.h"
#include "integrity/walk.h"
#include "tests/support/support.h"

using namespace goodcop;
using namespace goodcop::test;
namespace in = goodcop::integrity;

namespace {

const std::string kSecret = "TOP SECRET host data!\n";
const std::string kInnocent = "innocent jail data...\n";  // same size: a followed link would be hashed

// Restores the openat2 path even when a check fails.
struct Openat2Mode {
  explicit Openat2Mode(bool disabled) { in::set_openat2_disabled(disabled); }
  ~Openat2Mode() { in::set_openat2_disabled(false); }
};

void race_walk_against_swapper(bool fallback) {
  Openat2Mode mode(fallback);
  TempDir outside, tree;
  write_text(outside / "f", kSecret);
  write_text(outside / "x", kSecret);
  REQUIRE(::mkdir((tree / "d").c_str(), 0755) == 0);
  write_text(tree / "d/f", kInnocent);
  write_text(tree / "x", kInnocent);
  REQUIRE(::symlink(outside.path().c_str(), (tree / "link_d").c_str()) == 0);
  REQUIRE(::symlink((outside / "x").c_str(), (tree / "link_x").c_str()) == 0);
  REQUIRE(kSecret.size() == kInnocent.size());
  const std::string secret_hash = in::hex(in::sha256_of(kSecret));

  UniqueFd root = in::open_tree(tree.path());
  in::Manifest baseline = in::build_manifest(root.get());

  std::atomic<bool> stop{false};
  std::atomic<long> swaps{0};
  std::thread swapper([&] {
    while (!stop) {
      // RENAME_EXCHANGE: the path is always either the directory or the symlink.
      ::renameat2(AT_FDCWD, (tree / "d").c_str(), AT_FDCWD, (tree / "link_d").c_str(), RENAME_EXCHANGE);
      ::renameat2(AT_FDCWD, (tree / "x").c_str(), AT_FDCWD, (tree / "link_x").c_str(), RENAME_EXCHANGE);
      ++swaps;
    }
  });
  ScopeExit join([&] {
    stop = true;
    swapper.join();
  });

  int builds = 0, verifies = 0, deviations = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      in::Manifest m = in::build_manifest(root.get());
      ++builds;
      for (const in::Entry& e : m.entries()) {
        REQUIRE_FALSE((e.hashed && in::hex(e.sha256) == secret_hash));
        REQUIRE(m.path(e).find("..") == std::string_view::npos);
      }
    } catch (const Error& e) {
      // Giving up is allowed; reading outside is not, nor naming an outside path.
      REQUIRE(std::string(e.what()).find(outside.path()) == std::string::npos);
    }
    in::VerifyOptions o;
    o.mode = in::VerifyMode::kFull;
    in::Diff d = in::verify(root.get(), baseline, o);
    ++verifies;
    if (!d.clean()) ++deviations;
    for (const in::Change& c : d.changes) {
      if (c.new_info) REQUIRE(c.new_info->sha256 != secret_hash);
      REQUIRE(c.note.find(outside.path()) == std::string::npos);
    }
  }
  INFO("builds " << builds << ", verifies " << verifies << ", swaps " << swaps);
  CHECK(swaps > 100);
  CHECK(verifies > 10);
  CHECK(deviations > 0);  // the swaps are seen as changes, not silently followed
}

}  // namespace

TEST_CASE("a symlink swapper racing the walk never makes it read outside the tree (openat2)") {
  race_walk_against_swapper(false);
}

TEST_CASE("a symlink swapper racing the walk never makes it read outside the tree (O_NOFOLLOW fallback)") {
  race_walk_against_swapper(true);
}

TEST_CASE("open_beneath refuses symlinks anywhere in the path, and escapes") {
  for (bool fallback : {false, true}) {
    Openat2Mode mode(fallback);
    TempDir outside, tree;
    write_text(outside / "f", kSecret);
    REQUIRE(::mkdir((tree / "d").c_str(), 0755) == 0);
    write_text(tree / "d/f", kInnocent);
    REQUIRE(::symlink(outside.path().c_str(), (tree / "out").c_str()) == 0);
    REQUIRE(::symlink("d", (tree / "in").c_str()) == 0);
    REQUIRE(::symlink("d/f", (tree / "lf").c_str()) == 0);
    UniqueFd root = in::open_tree(tree.path());
    CHECK(in::open_beneath(root.get(), "d/f", O_RDONLY));
    for (const char* bad : {"out/f", "in/f", "lf", "../" , "d/../../x"}) {
      INFO((fallback ? "fallback: " : "openat2: ") << bad);
      CHECK_THROWS_AS(in::open_beneath(root.get(), bad, O_RDONLY), SysError);
    }
  }
}

TEST_CASE("a fifo in the tree is never opened: building does not hang") {
  TempDir tree;
  REQUIRE(::mkfifo((tree / "fifo").c_str(), 0644) == 0);
  write_text(tree / "f", "x");
  in::Manifest m = in::build_manifest(tree.path());
  REQUIRE(m.find("fifo") != nullptr);
  CHECK(m.find("fifo")->type == in::EntryType::kFifo);
  // A fifo renamed over a hashed file between walk and open: O_NONBLOCK, and fstat
  // before trusting it, turn that into "changed during the check", not a hang.
  UniqueFd root = in::open_tree(tree.path());
  UniqueFd fd = in::open_beneath(root.get(), "fifo", O_RDONLY);
  CHECK(fd);
}
