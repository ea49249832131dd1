// A build that writes its manifest while the walk's entries are joined
// (build_manifest with a sink, text::write_filling): the same bytes as writing
// the finished manifest, nothing written for a tree that changed, nothing
// unsorted written, and the CLI never lists its own temporary file.
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "integrity/manifest.h"
#include "integrity/scan.h"
#include "integrity/text_form.h"
#include "integrity/walk.h"
#include "tests/support/support.h"

using namespace goodcop;
using namespace goodcop::test;
namespace in = goodcop::integrity;

namespace {

void make_tree(const TempDir& t) {
  for (const char* d : {"a", "a/b", "a.d", "e"}) REQUIRE(::mkdir((t / d).c_str(), 0755) == 0);
  for (int i = 0; i < 40; ++i)
    write_text(t / ("a/f" + std::to_string(i)), std::string(size_t(i) * 100, 'x'));
  write_text(t / "a/b/deep", "deep");
  write_text(t / "a.d/y", "y");
  write_text(t / "log", "ignored");
  REQUIRE(::symlink("a/f1", (t / "l").c_str()) == 0);
}

struct Pieces {
  std::vector<std::string> got;
  std::function<void(std::string_view)> sink() {
    return [this](std::string_view p) { got.emplace_back(p); };
  }
  std::string joined() const {
    std::string s;
    for (const std::string& p : got) s += p;
    return s;
  }
};

}  // namespace

TEST_CASE("a build that writes as it joins hands on exactly the text of its manifest") {
  TempDir t;
  make_tree(t);
  bool xattrs = ::setxattr((t / "a/b/deep").c_str(), "user.note", "v", 1, 0) == 0 &&
                ::setxattr((t / "a/b").c_str(), "user.dir", "w", 1, 0) == 0;
  in::ScanOptions o;
  o.ignore = {"log"};
  o.all_xattrs = true;
  Pieces p;
  in::Manifest m = in::build_manifest(t.path(), o, p.sink());
  const std::string text = in::write_manifest(m);
  CHECK(p.joined() == text);
  CHECK(text == in::write_manifest(in::build_manifest(t.path(), o)));
  CHECK(p.got.size() >= 2);
  CHECK(p.got.back().rfind("#goodcop-sha256 ", 0) == 0);
  CHECK(p.got.front().find("#goodcop-ignore log\n") != std::string::npos);
  CHECK(m.find("log") == nullptr);
  CHECK(m.size() == 48);
  if (xattrs) CHECK(m.xattrs(*m.find("a/b/deep")).size() == 1);
  CHECK(in::parse_manifest(p.joined()).size() == 48);
}

TEST_CASE("nothing reaches the sink of a build whose tree changed under the walk") {
  TempDir t;
  make_tree(t);
  UniqueFd root = in::open_tree(t.path());
  in::WalkOptions o;
  o.threads = 2;
  o.hash_all = true;
  o.defer_min = 0;
  o.before_deferred = [&](std::string_view rel) {
    if (rel != "a/b/deep") return;
    write_text(t / "a/b/new", "deep");
    REQUIRE(::rename((t / "a/b/new").c_str(), (t / "a/b/deep").c_str()) == 0);
  };
  Pieces p;
  o.text_sink = p.sink();
  in::WalkResult w = in::walk_tree(root.get(), o);
  REQUIRE(w.issues.size() == 1);
  CHECK(w.issues[0].path == "a/b/deep");
  CHECK(p.got.empty());
  CHECK(w.manifest.size() == 49);  // joined as always, for the caller to report
}

TEST_CASE("the writer of a manifest being joined formats each chunk once it is joined") {
  const size_t n = 30000;  // several chunks of 8,192 entries
  in::Manifest m;
  m.reserve(n, n * 16, 0);
  m.ignore = {"x/**"};
  std::atomic<size_t> ready{0};
  std::thread filler([&] {
    in::Entry dir;
    dir.type = in::EntryType::kDir;
    m.add("", dir);
    for (size_t i = 1; i < n; ++i) {
      in::Entry f;
      f.ino = i;
      f.size = i;
      char name[32];
      std::snprintf(name, sizeof name, "f%07zu", i);
      m.add(name, f);
      if (i % 997 == 0) {
        ready.store(m.size(), std::memory_order_release);
        ready.notify_all();
        if (i % 9970 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    ready.store(n, std::memory_order_release);
    ready.notify_all();
  });
  Pieces p;
  in::text::write_filling(m, n, ready, p.sink());
  filler.join();
  CHECK(p.got.size() > 3);
  CHECK(p.joined() == in::write_manifest(m));
}

TEST_CASE(
    "the writer of a manifest being joined stops at an entry out of order, before the digest") {
  in::Manifest m;
  in::Entry f;
  m.add("", in::Entry{});
  m.add("b", f);
  m.add("a", f);
  std::atomic<size_t> ready{m.size()};
  Pieces p;
  CHECK_THROWS_WITH(in::text::write_filling(m, m.size(), ready, p.sink()),
                    "manifest: 'a' out of order");
  CHECK(p.joined().find("#goodcop-sha256") == std::string::npos);
  in::Manifest dup;
  dup.add("", in::Entry{});
  dup.add("a", f);
  dup.add("a", f);
  std::atomic<size_t> all{dup.size()};
  CHECK_THROWS_WITH(in::text::write_filling(dup, dup.size(), all, p.sink()),
                    "manifest: 'a' out of order");
  std::atomic<size_t> failed{in::text::kFillFailed};
  CHECK_THROWS_WITH(in::text::write_filling(m, m.size(), failed, p.sink()),
                    "manifest: the entries were not all joined");
}

TEST_CASE("cli: build -o FILE inside the tree does not list its temporary file") {
  TempDir t;
  make_tree(t);
  RunResult r = run_goodcop({"manifest", "build", t.path(), "-o", t / "m.mtree"});
  REQUIRE(r.status == 0);
  CHECK(r.out == "wrote '" + (t / "m.mtree") + "': 49 entries, 43 files, 78012 bytes hashed\n");
  in::Manifest m = in::load_manifest(t / "m.mtree");
  for (const in::Entry& e : m.entries()) CHECK(m.path(e).find("m.mtree") == std::string_view::npos);
}
