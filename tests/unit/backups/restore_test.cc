// Plain-mode restores: the atomic swap, `keep` paths carried over, leftovers of a
// killed restore cleaned up, and a restore SIGKILLed at random moments never
// leaving the tree half old, half new.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <random>

#include "backups/restore.h"
#include "backups/seal.h"
#include "base/error.h"
#include "base/fd.h"
#include "tests/support/support.h"
#include "tests/unit/backups/helpers.h"

namespace bk = goodcop::backups;
using goodcop::test::snapshot;
using goodcop::test::TempDir;
using goodcop::test::write_text;

namespace {

void mkdirs(const std::string& p) { REQUIRE(::mkdir(p.c_str(), 0755) == 0); }

// A small tree whose content depends on `tag`.
void make_small_tree(const std::string& d, const std::string& tag, int files = 40) {
  mkdirs(d);
  mkdirs(d + "/etc");
  mkdirs(d + "/srv");
  mkdirs(d + "/data");  // the persistent path's mount point, as in a golden tree
  for (int i = 0; i < files; ++i)
    write_text(d + "/srv/page" + std::to_string(i) + ".html", tag + " page " + std::to_string(i) + "\n");
  write_text(d + "/etc/version", tag + "\n");
  REQUIRE(::symlink("version", (d + "/etc/current").c_str()) == 0);
}

// The snapshot without the persistent path (which restores carry, not replace).
std::map<std::string, std::string> golden_part(const std::string& d) {
  auto s = snapshot(d);
  for (auto it = s.begin(); it != s.end();) {
    if (it->first == "data" || it->first.rfind("data/", 0) == 0) it = s.erase(it);
    else ++it;
  }
  return s;
}

}  // namespace

TEST_CASE("restore: replaces a tampered tree and carries keep paths over", "[backups][restore]") {
  TempDir t;
  std::string src = t / "src", jail = t / "jail", arc = t / "g.tar";
  make_small_tree(src, "good");
  bk::seal(src, arc, {bk::Compression::kNone});
  bk::restore_plain(arc, jail);
  write_text(jail + "/data/db", "customer data\n");
  write_text(jail + "/etc/version", "defaced\n");
  write_text(jail + "/srv/shell.php", "<?php system($_GET['c']);\n");
  bk::RestoreOptions o;
  o.keep = {"data"};
  bk::RestoreResult r = bk::restore_plain(arc, jail, o);
  CHECK(r.replaced);
  CHECK(golden_part(jail) == golden_part(src));
  CHECK(goodcop::read_file(jail + "/data/db") == "customer data\n");
  CHECK(::access(bk::staging_path(jail).c_str(), F_OK) != 0);
  CHECK(goodcop::test::list_dir(t.path()) ==
        std::vector<std::string>{".goodcop-staging-jail.lock", "g.tar", "g.tar.sha256", "jail", "src"});
}

TEST_CASE("restore: a keep path reached through a planted symlink is not followed", "[backups][restore][hostile]") {
  TempDir t;
  std::string src = t / "src", jail = t / "jail", arc = t / "g.tar", host = t / "host";
  make_small_tree(src, "good");
  bk::seal(src, arc, {bk::Compression::kNone});
  bk::restore_plain(arc, jail);
  mkdirs(host);
  mkdirs(host + "/secret");
  write_text(host + "/secret/key", "host key\n");
  // The jail replaces data/ by a symlink to a host directory, hoping the restore moves
  // "data/secret" (the host's) into the new tree.
  REQUIRE(::rmdir((jail + "/data").c_str()) == 0);
  REQUIRE(::symlink(host.c_str(), (jail + "/data").c_str()) == 0);
  bk::RestoreOptions o;
  o.keep = {"data/secret"};
  bk::restore_plain(arc, jail, o);
  CHECK(goodcop::read_file(host + "/secret/key") == "host key\n");
  CHECK(golden_part(jail) == golden_part(src));
  CHECK(::access((jail + "/data/secret").c_str(), F_OK) != 0);
}

TEST_CASE("restore: a leftover staging directory is removed, keep data moved back", "[backups][restore]") {
  TempDir t;
  std::string src = t / "src", jail = t / "jail", arc = t / "g.tar";
  make_small_tree(src, "good");
  bk::seal(src, arc, {bk::Compression::kNone});
  bk::restore_plain(arc, jail);
  // As a restore killed right after carrying data/ into staging would leave it.
  std::string staging = bk::staging_path(jail);
  make_small_tree(staging, "half");
  REQUIRE(::rmdir((staging + "/data").c_str()) == 0);
  REQUIRE(::rename((jail + "/data").c_str(), (staging + "/data").c_str()) == 0);
  write_text(staging + "/data/db", "customer data\n");
  bk::recover_staging(jail, {"data"});
  CHECK(::access(staging.c_str(), F_OK) != 0);
  CHECK(goodcop::read_file(jail + "/data/db") == "customer data\n");
  // And a restore does the same on its own.
  make_small_tree(staging, "half");
  bk::RestoreOptions o;
  o.keep = {"data"};
  bk::restore_plain(arc, jail, o);
  CHECK(::access(staging.c_str(), F_OK) != 0);
  CHECK(goodcop::read_file(jail + "/data/db") == "customer data\n");
}

TEST_CASE("restore: killed at random moments, the tree is always whole", "[backups][restore][root]") {
  GOODCOP_REQUIRE_ROOT();  // mounts a tmpfs: small trees, fast, and cleaned up by umount
  goodcop::test::TmpfsMount m("64m");
  std::string base = m.path();
  std::string a = base + "/a", b = base + "/b", jail = base + "/jail";
  make_small_tree(a, "old");
  make_small_tree(b, "new");
  bk::seal(a, base + "/a.tar", {bk::Compression::kNone});
  bk::seal(b, base + "/b.tar.zst");
  auto snap_a = golden_part(a), snap_b = golden_part(b);
  bk::restore_plain(base + "/a.tar", jail);
  write_text(jail + "/data/db", "customer data\n");
  bk::RestoreOptions o;
  o.keep = {"data"};

  auto restore_in_child = [&](const std::string& arc) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      try {
        bk::restore_plain(arc, jail, o);
        ::_exit(0);
      } catch (...) {
        ::_exit(1);
      }
    }
    return pid;
  };
  // How long one uninterrupted restore takes here: the kills spread over it.
  auto t0 = std::chrono::steady_clock::now();
  int st = 0;
  pid_t p0 = restore_in_child(base + "/b.tar.zst");
  REQUIRE(::waitpid(p0, &st, 0) == p0);
  REQUIRE(WIFEXITED(st));
  REQUIRE(WEXITSTATUS(st) == 0);
  auto span = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  REQUIRE(golden_part(jail) == snap_b);

  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<long> delay(0, span.count() * 3 / 2);
  int old_seen = 0, new_seen = 0, leftovers = 0;
  for (int i = 0; i < 60; ++i) {
    std::string arc = base + (i % 2 == 0 ? "/a.tar" : "/b.tar.zst");
    pid_t pid = restore_in_child(arc);
    long us = delay(rng);
    timespec ts{us / 1'000'000, (us % 1'000'000) * 1000};
    ::nanosleep(&ts, nullptr);
    ::kill(pid, SIGKILL);
    REQUIRE(::waitpid(pid, &st, 0) == pid);
    auto now = golden_part(jail);
    bool is_a = now == snap_a, is_b = now == snap_b;
    CAPTURE(i, us);
    REQUIRE((is_a || is_b));
    old_seen += is_a;
    new_seen += is_b;
    // The persistent data is in the tree, or (mid-restore) in the staging tree.
    bool in_jail = ::access((jail + "/data/db").c_str(), F_OK) == 0;
    bool in_staging = ::access((bk::staging_path(jail) + "/data/db").c_str(), F_OK) == 0;
    REQUIRE((in_jail || in_staging));
    leftovers += ::access(bk::staging_path(jail).c_str(), F_OK) == 0;
  }
  WARN("kills left the tree old " << old_seen << " times, new " << new_seen << " times; "
       << leftovers << " left a staging directory");
  bk::restore_plain(base + "/a.tar", jail, o);
  CHECK(golden_part(jail) == snap_a);
  CHECK(goodcop::read_file(jail + "/data/db") == "customer data\n");
  CHECK(::access(bk::staging_path(jail).c_str(), F_OK) != 0);
}
