// Files left for the end of the walk (WalkOptions::defer_min) and reopened by
// their path: hashed like the others, and every change made to them before the
// reopen is seen, never followed out of the tree. And the walk's O_NOATIME.
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <string>

#include "base/error.h"
#include "base/fd.h"
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

// a/f (5 bytes), a/g (0 bytes), a/b/h (70,000 bytes), k (300 KiB: hashed through
// a mapping), l -> a/f.
void make_tree(const TempDir& t) {
  REQUIRE(::mkdir((t / "a").c_str(), 0755) == 0);
  REQUIRE(::mkdir((t / "a/b").c_str(), 0755) == 0);
  write_text(t / "a/f", "hello");
  write_text(t / "a/g", "");
  write_text(t / "a/b/h", std::string(70000, 'h'));
  write_text(t / "k", std::string(300 << 10, 'k'));
  REQUIRE(::symlink("a/f", (t / "l").c_str()) == 0);
}

// A build's walk (every file hashed) with every file deferred, or none.
in::WalkResult walk(const TempDir& t, bool defer_all, bool hash_all = true,
                    std::function<void(std::string_view)> hook = {}) {
  UniqueFd root = in::open_tree(t.path());
  in::WalkOptions o;
  o.threads = 2;
  o.hash_all = hash_all;
  if (!hash_all) o.want_hash = [](std::string_view, const in::Entry&) { return true; };
  o.defer_min = defer_all ? 0 : UINT64_MAX;
  o.defer_max = UINT64_MAX;
  o.before_deferred = std::move(hook);
  return in::walk_tree(root.get(), o);
}

const in::Entry& at(const in::WalkResult& w, std::string_view path) {
  const in::Entry* e = w.manifest.find(path);
  REQUIRE(e != nullptr);
  return *e;
}

}  // namespace

TEST_CASE("deferred files get the digests and text of files hashed where they are found") {
  TempDir t;
  make_tree(t);
  for (bool hash_all : {true, false}) {
    INFO((hash_all ? "build" : "verify") << " walk");
    in::WalkResult now = walk(t, false, hash_all), later = walk(t, true, hash_all);
    CHECK(now.issues.empty());
    CHECK(later.issues.empty());
    CHECK(later.files_hashed == 4);
    CHECK(in::write_manifest(later.manifest) == in::write_manifest(now.manifest));
    CHECK(in::hex(at(later, "a/b/h").sha256) == in::hex(in::sha256_of(std::string(70000, 'h'))));
    CHECK(at(later, "k").hashed);
  }
}

TEST_CASE("a deferred file swapped for a symlink before its reopen is not followed") {
  TempDir outside, t;
  make_tree(t);
  write_text(outside / "secret", kSecret);
  in::WalkResult w = walk(t, true, true, [&](std::string_view rel) {
    if (rel != "a/f") return;
    std::string tmp = t / "a/tmp-link";
    REQUIRE(::symlink((outside / "secret").c_str(), tmp.c_str()) == 0);
    REQUIRE(::rename(tmp.c_str(), (t / "a/f").c_str()) == 0);
  });
  REQUIRE(w.issues.size() == 1);
  CHECK(w.issues[0].path == "a/f");
  CHECK(w.issues[0].what == in::FileIssue::kChanged);
  for (const in::Entry& e : w.manifest.entries())
    CHECK_FALSE((e.hashed && e.sha256 == in::sha256_of(kSecret)));
}

TEST_CASE("a deferred file whose directory became a symlink out of the tree is not followed") {
  TempDir outside, t;
  make_tree(t);
  REQUIRE(::mkdir((outside / "b").c_str(), 0755) == 0);
  write_text(outside / "b/h", kSecret);
  in::WalkResult w = walk(t, true, true, [&](std::string_view rel) {
    if (rel != "a/b/h") return;
    REQUIRE(::rename((t / "a/b").c_str(), (t / "a/b-old").c_str()) == 0);
    REQUIRE(::symlink((outside / "b").c_str(), (t / "a/b").c_str()) == 0);
  });
  REQUIRE(w.issues.size() == 1);
  CHECK(w.issues[0].path == "a/b/h");
  CHECK(w.issues[0].what == in::FileIssue::kChanged);
  CHECK_FALSE(at(w, "a/b/h").hashed);
}

TEST_CASE("a deferred file replaced by another inode before its reopen is reported changed") {
  TempDir t;
  make_tree(t);
  in::WalkResult w = walk(t, true, true, [&](std::string_view rel) {
    if (rel != "a/b/h") return;
    write_text(t / "a/b/new", std::string(70000, 'h'));
    REQUIRE(::rename((t / "a/b/new").c_str(), (t / "a/b/h").c_str()) == 0);
  });
  REQUIRE(w.issues.size() == 1);
  CHECK(w.issues[0].path == "a/b/h");
  CHECK(w.issues[0].what == in::FileIssue::kChanged);
}

TEST_CASE(
    "a deferred file that grew or shrank before its reopen gets its size and digest as read") {
  TempDir t;
  make_tree(t);
  const std::string grown(80000, 'g'), shrunk = "tiny";
  in::WalkResult w = walk(t, true, true, [&](std::string_view rel) {
    // Rewritten in place (the same inode), as a jailed process would.
    if (rel == "a/b/h") write_text(t / "a/b/h", grown);
    if (rel == "k") write_text(t / "k", shrunk);
  });
  CHECK(w.issues.empty());
  CHECK(at(w, "a/b/h").size == grown.size());
  CHECK(at(w, "a/b/h").sha256 == in::sha256_of(grown));
  CHECK(at(w, "k").size == shrunk.size());
  CHECK(at(w, "k").sha256 == in::sha256_of(shrunk));
}

TEST_CASE("at most defer_count files are deferred, the rest are hashed where they are found") {
  TempDir t;
  make_tree(t);
  UniqueFd root = in::open_tree(t.path());
  in::WalkOptions o;
  o.threads = 2;
  o.hash_all = true;
  o.defer_min = 0;
  o.defer_count = 1;
  std::atomic<int> reopened{0};
  o.before_deferred = [&](std::string_view) { ++reopened; };
  in::WalkResult w = in::walk_tree(root.get(), o);
  CHECK(w.issues.empty());
  CHECK(w.files_hashed == 4);
  CHECK(reopened == 1);
}

TEST_CASE("reading the tree leaves its atimes as they were (O_NOATIME)") {
  TempDir t;
  make_tree(t);
  struct statvfs vfs {};
  REQUIRE(::statvfs(t.path().c_str(), &vfs) == 0);
  if ((vfs.f_flag & ST_NOATIME) != 0) {
    WARN("skipped: '" << t.path() << "' is mounted noatime");
    return;
  }
  // An atime older than the mtime: relatime and strictatime both update it on a read.
  const struct timespec times[2] = {{1000, 0}, {0, UTIME_OMIT}};
  for (const char* f : {"a/f", "a/b/h", "k"})
    REQUIRE(::utimensat(AT_FDCWD, (t / f).c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
  in::Manifest m = in::build_manifest(t.path());
  in::VerifyOptions vo;
  vo.mode = in::VerifyMode::kFull;
  UniqueFd root = in::open_tree(t.path());
  CHECK(in::verify(root.get(), m, vo).clean());
  for (const char* f : {"a/f", "a/b/h", "k"}) {
    struct stat st {};
    REQUIRE(::stat((t / f).c_str(), &st) == 0);
    INFO(f);
    CHECK(st.st_atim.tv_sec == 1000);
  }
  // Control: a plain read does move it, so the check above can fail.
  std::string s = read_file(t / "a/f");
  struct stat st {};
  REQUIRE(::stat((t / "a/f").c_str(), &st) == 0);
  CHECK(st.st_atim.tv_sec != 1000);
}

TEST_CASE("a build of files it may not open O_NOATIME opens them without it", "[root]") {
  GOODCOP_REQUIRE_ROOT();
  TempDir t;
  REQUIRE(::chmod(t.path().c_str(), 0755) == 0);
  make_tree(t);
  const std::string want = in::write_manifest(in::build_manifest(t.path()));
  // As nobody: not the files' owner and no CAP_FOWNER, so open(2) refuses O_NOATIME with EPERM.
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int rc = 1;
    try {
      if (::setgroups(0, nullptr) == 0 && ::setresgid(65534, 65534, 65534) == 0 &&
          ::setresuid(65534, 65534, 65534) == 0) {
        std::string text = in::write_manifest(in::build_manifest(t.path()));
        write_all(p[1], text);
        rc = 0;
      }
    } catch (...) {
      rc = 2;
    }
    ::_exit(rc);
  }
  ::close(p[1]);
  std::string got;
  char buf[65536];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    REQUIRE(n > 0);
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(p[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(got == want);
}
