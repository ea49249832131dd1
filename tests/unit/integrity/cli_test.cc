// `goodcop manifest build|verify|diff`: exit codes, human lines, --json shape.
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tests/unit/integrity/tree_fixture.h"

using namespace goodcop;
using namespace goodcop::test;

namespace {

struct CliTree {
  Tree t;
  TempDir out;
  std::string mf = out / "tree.mtree";
  CliTree() {
    RunResult r = run_goodcop({"manifest", "build", t.dir.path(), "-o", mf});
    REQUIRE(r.status == 0);
    REQUIRE(r.out == "wrote '" + mf + "': 11 entries, 5 files, 50 bytes hashed\n");
    REQUIRE(r.err == "");
  }
};

}  // namespace

TEST_CASE("cli: verify of an unchanged tree exits 0 and says clean") {
  CliTree c;
  for (const char* mode : {"--quick", "--portable"}) {
    RunResult r = run_goodcop({"manifest", "verify", c.t.dir.path(), c.mf, mode});
    CHECK(r.status == 0);
    CHECK(r.out == "clean: 11 entries match '" + c.mf + "'\n");
  }
  RunResult r = run_goodcop({"manifest", "verify", c.t.dir.path(), c.mf});
  CHECK(r.status == 0);
}

TEST_CASE("cli: verify lists each deviation per path and exits 1") {
  CliTree c;
  rewrite_same_size_keep_mtime(c.t / "a/b/deep", "DEEP FILE\n");
  REQUIRE(::chmod((c.t / "bin/tool").c_str(), 04755) == 0);
  // Made before the old one goes, so it cannot reuse the old inode number.
  REQUIRE(::symlink("g", (c.t / "a/s.new").c_str()) == 0);
  REQUIRE(::rename((c.t / "a/s.new").c_str(), (c.t / "a/s").c_str()) == 0);
  REQUIRE(::rmdir((c.t / "e").c_str()) == 0);
  REQUIRE(::mkdir((c.t / "a/new").c_str(), 0755) == 0);
  RunResult r = run_goodcop({"manifest", "verify", c.t.dir.path(), c.mf});
  CHECK(r.status == 1);
  CHECK(r.err == "");
  // The symlink was recreated: a new inode too (the tree is the one built).
  CHECK(r.out ==
        "changed  a/b/deep: content\n"
        "added    a/new (dir)\n"
        "changed  a/s: link 'f' -> 'g', inode " +
            std::to_string(c.t.m.find("a/s")->ino) + " -> " +
            [&] {
              struct stat st {};
              ::lstat((c.t / "a/s").c_str(), &st);
              return std::to_string(st.st_ino);
            }() +
            "\n"
            "changed  bin/tool: mode 0755 -> 4755\n"
            "removed  e (dir)\n"
            "5 deviations: 1 added, 1 removed, 3 changed\n");
}

TEST_CASE("cli: verify --json has the documented, stable shape") {
  CliTree c;
  REQUIRE(::chmod((c.t / "bin/tool").c_str(), 02755) == 0);
  write_text(c.t / "a/x", "new");
  RunResult r = run_goodcop({"manifest", "verify", c.t.dir.path(), c.mf, "--json", "--quick"});
  CHECK(r.status == 1);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["format"] == "goodcop-diff");
  CHECK(j["version"] == 1);
  CHECK(j["clean"] == false);
  CHECK(j["counts"] == nlohmann::json({{"added", 1}, {"removed", 0}, {"changed", 1}}));
  CHECK(j["truncated"] == false);
  CHECK(j["limit"].is_null());
  REQUIRE(j["changes"].size() == 2);
  auto a = j["changes"][0];
  CHECK(a["path"] == "a/x");
  CHECK(a["kinds"] == nlohmann::json::array({"added"}));
  CHECK(a["old"].is_null());
  CHECK(a["new"]["type"] == "file");
  CHECK(a["new"]["size"] == 3);
  auto m = j["changes"][1];
  CHECK(m["path"] == "bin/tool");
  CHECK(m["kinds"] == nlohmann::json::array({"mode"}));
  CHECK(m["old"]["mode"] == "0755");
  CHECK(m["new"]["mode"] == "2755");
  CHECK(m["old"]["sha256"].get<std::string>().size() == 64);
  CHECK(m["old"]["xattrs"] == nlohmann::json::object());
  CHECK(j["stats"]["entries"] == 12);
}

TEST_CASE("cli: diff of two manifests exits 1 on a difference and 0 on none") {
  CliTree c;
  REQUIRE(::chmod((c.t / "bin/tool").c_str(), 0700) == 0);
  std::string mf2 = c.out / "after.mtree";
  REQUIRE(run_goodcop({"manifest", "build", c.t.dir.path(), "-o", mf2}).status == 0);
  RunResult r = run_goodcop({"manifest", "diff", c.mf, mf2});
  CHECK(r.status == 1);
  CHECK(r.out == "changed  bin/tool: mode 0755 -> 0700\n1 deviation: 0 added, 0 removed, 1 changed\n");
  RunResult same = run_goodcop({"manifest", "diff", c.mf, c.mf});
  CHECK(same.status == 0);
  CHECK(same.out == "clean: 11 entries match '" + c.mf + "'\n");
}

TEST_CASE("cli: a damaged manifest is refused with exit 3, bad usage exits 2") {
  CliTree c;
  RunResult missing = run_goodcop({"manifest", "verify", c.t / "nope", c.mf});
  CHECK(missing.status == 3);
  CHECK(missing.err == "goodcop: manifest: open '" + (c.t / "nope") + "': No such file or directory\n");
  std::string text = read_file(c.mf);
  text[text.find("mode=")] = 'X';
  write_text(c.mf, text);
  RunResult r = run_goodcop({"manifest", "verify", c.t.dir.path(), c.mf});
  CHECK(r.status == 3);
  CHECK(r.out == "");
  CHECK(r.err == "goodcop: manifest: '" + c.mf + "': manifest: digest mismatch (the manifest is damaged)\n");
  RunResult usage = run_goodcop({"manifest", "build", c.t.dir.path()});
  CHECK(usage.status == 2);
}
