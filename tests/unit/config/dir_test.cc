// A policy directory as the daemon loads it: which files count, and the checks
// across files, each naming both files.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "config/policy.h"
#include "tests/support/support.h"

using namespace goodcop::config;
using goodcop::test::TempDir;
using goodcop::test::write_text;

namespace {

std::string jail(const std::string& name, const std::string& extra = "") {
  return "name: " + name + "\npath: /srv/jails/" + name + "\nexec: {start: [/bin/sh]}\n" + extra;
}

// Every diagnostic of a directory as the operator sees it, with the temp dir as "D".
std::vector<std::string> dir_errors(const TempDir& d) {
  DirResult r = load_policy_dir(d.path(), LoadOptions{false});
  std::vector<std::string> out;
  auto strip = [&](std::string s) {
    for (size_t at; (at = s.find(d.path())) != std::string::npos;)
      s.replace(at, d.path().size(), "D");
    return s;
  };
  for (const Diag& g : r.diags) out.push_back(strip(g.str()));
  for (const FileResult& f : r.files)
    for (const Diag& g : f.diags) out.push_back(strip(g.str()));
  return out;
}

}  // namespace

TEST_CASE("a directory of valid, distinct policies loads in name order", "[config]") {
  TempDir d;
  write_text(d / "b.yaml", jail("b", "ip4: 198.18.0.3\n"));
  write_text(d / "a.yml", jail("a", "ip4: 198.18.0.2\n"));
  DirResult r = load_policy_dir(d.path(), LoadOptions{false});
  CHECK(r.ok());
  REQUIRE(r.files.size() == 2);
  CHECK(r.files[0].file == d / "a.yml");
  CHECK(r.files[1].file == d / "b.yaml");
  REQUIRE(r.files[1].policy);
  CHECK(r.files[1].policy->name == "b");
}

TEST_CASE("only regular *.yaml and *.yml files count, dotfiles and others are skipped",
          "[config]") {
  TempDir d;
  write_text(d / "a.yaml", jail("a"));
  write_text(d / "README", "not a policy");
  write_text(d / "a.yaml.bak", "name: [broken");
  write_text(d / ".a.yaml.swp", "name: [broken");
  write_text(d / ".hidden.yaml", "name: [broken");
  write_text(d / "yaml", "name: [broken");
  REQUIRE(::mkdir((d / "sub").c_str(), 0755) == 0);
  write_text(d / "sub/c.yaml", "name: [broken");
  REQUIRE(::symlink("/nonexistent", (d / ".#a.yaml").c_str()) == 0);  // an editor's lock
  DirResult r = load_policy_dir(d.path(), LoadOptions{false});
  CHECK(r.ok());
  REQUIRE(r.files.size() == 1);
  CHECK(r.files[0].file == d / "a.yaml");
}

TEST_CASE("symlinks, directories and fifos named *.yaml are refused", "[config]") {
  TempDir d;
  write_text(d / "real.txt", jail("a"));
  REQUIRE(::symlink((d / "real.txt").c_str(), (d / "link.yaml").c_str()) == 0);
  REQUIRE(::mkdir((d / "dir.yaml").c_str(), 0755) == 0);
  REQUIRE(::mkfifo((d / "fifo.yaml").c_str(), 0644) == 0);  // must not hang the loader
  CHECK(dir_errors(d) == std::vector<std::string>{
                             "'D/dir.yaml': not a regular file",
                             "'D/fifo.yaml': not a regular file",
                             "'D/link.yaml': is a symbolic link, refusing to follow it",
                         });
}

TEST_CASE("duplicate names across files name both files", "[config]") {
  TempDir d;
  write_text(d / "a.yaml", jail("web"));
  write_text(d / "b.yaml", "name: web\npath: /srv/jails/other\nexec: {start: [/bin/sh]}\n");
  CHECK(dir_errors(d) ==
        std::vector<std::string>{"D/b.yaml:1:7: name 'web' is already used by D/a.yaml:1:7",
                                 "D/b.yaml:1:7: evidence directory '/var/lib/goodcop/evidence/web' "
                                 "is already used by D/a.yaml:1:7"});
}

TEST_CASE("overlapping jail paths are rejected, equal or nested either way", "[config]") {
  TempDir d;
  write_text(d / "a.yaml", jail("a"));
  write_text(d / "b.yaml", "name: b\npath: /srv/jails/a\nexec: {start: [/bin/sh]}\n");
  write_text(d / "c.yaml", "name: c\npath: /srv/jails/a/inner\nexec: {start: [/bin/sh]}\n");
  write_text(d / "d.yaml", "name: d\npath: /srv\nexec: {start: [/bin/sh]}\n");
  write_text(d / "e.yaml", "name: e\npath: /srv/jails/ab\nexec: {start: [/bin/sh]}\n");
  CHECK(dir_errors(d) ==
        std::vector<std::string>{
            "D/b.yaml:2:7: path '/srv/jails/a' is already used by D/a.yaml:2:7",
            "D/c.yaml:2:7: path '/srv/jails/a/inner' overlaps path '/srv/jails/a' of D/a.yaml:2:7",
            "D/d.yaml:2:7: path '/srv' overlaps path '/srv/jails/a' of D/a.yaml:2:7",
        });
}

TEST_CASE("duplicate addresses across files name both positions", "[config]") {
  TempDir d;
  write_text(d / "a.yaml", jail("a", "ip4: [198.18.0.2/24]\nip6: [2001:db8::2]\n"));
  write_text(d / "b.yaml", jail("b", "ip4: [198.18.0.9, 198.18.0.2/32]\n"));
  write_text(d / "c.yaml", jail("c", "ip6: '2001:db8:0::2/64'\n"));
  CHECK(dir_errors(d) == std::vector<std::string>{
                             "D/b.yaml:4:19: address 198.18.0.2 is already used by D/a.yaml:4:7",
                             "D/c.yaml:4:6: address 2001:db8::2 is already used by D/a.yaml:5:7",
                         });
}

TEST_CASE("shared or nested evidence directories are rejected", "[config]") {
  TempDir d;
  write_text(d / "a.yaml", jail("a", "evidence: {dir: /srv/evidence/shared}\n"));
  write_text(d / "b.yaml", jail("b", "evidence.dir: /srv/evidence/shared\n"));
  write_text(d / "c.yaml", jail("c", "evidence.dir: /srv/evidence\n"));
  // The default of d (/var/lib/goodcop/evidence/d) is claimed explicitly by e.
  write_text(d / "d.yaml", jail("d"));
  write_text(d / "e.yaml", jail("e", "evidence.dir: /var/lib/goodcop/evidence/d\n"));
  CHECK(dir_errors(d) ==
        std::vector<std::string>{
            "D/b.yaml:4:15: evidence directory '/srv/evidence/shared' is already used by "
            "D/a.yaml:4:17",
            "D/c.yaml:4:15: evidence directory '/srv/evidence' overlaps '/srv/evidence/shared' "
            "used by D/a.yaml:4:17",
            "D/e.yaml:4:15: evidence directory '/var/lib/goodcop/evidence/d' is already used by "
            "D/d.yaml:1:7",
        });
}

TEST_CASE("one jail cannot reach another's root, evidence or golden archive", "[config]") {
  TempDir d;
  write_text(d / "a.yaml", jail("a"));
  // b's golden archive inside a's root: customer a could rewrite b's known-good state.
  write_text(d / "b.yaml", jail("b", "golden: /srv/jails/a/golden-b\n"));
  // c binds a's root into itself.
  write_text(d / "c.yaml", jail("c", "mounts: [{source: /srv/jails/a/var/www, target: /a}]\n"));
  // d keeps its evidence inside a's root.
  write_text(d / "d.yaml", jail("d", "evidence.dir: /srv/jails/a/ev\n"));
  // Two jails may share one golden archive (read-only).
  write_text(d / "e.yaml", jail("e", "golden: /var/golden/base\n"));
  write_text(d / "f.yaml", jail("f", "golden: /var/golden/base\n"));
  CHECK(dir_errors(d) ==
        std::vector<std::string>{
            "D/b.yaml:4:9: golden '/srv/jails/a/golden-b' overlaps path '/srv/jails/a' of "
            "D/a.yaml:2:7",
            "D/c.yaml:4:19: mounts[0].source '/srv/jails/a/var/www' overlaps path "
            "'/srv/jails/a' of D/a.yaml:2:7",
            "D/d.yaml:4:15: evidence.dir '/srv/jails/a/ev' overlaps path '/srv/jails/a' of "
            "D/a.yaml:2:7",
        });
}

TEST_CASE("a file with errors is reported alone and left out of the cross-checks", "[config]") {
  TempDir d;
  write_text(d / "a.yaml", jail("a", "watch.interval: 5 seconds\n"));
  write_text(d / "b.yaml", jail("a"));  // same name as the broken a.yaml: not compared
  DirResult r = load_policy_dir(d.path(), LoadOptions{false});
  REQUIRE(r.files.size() == 2);
  CHECK(!r.files[0].ok());
  CHECK(r.files[1].ok());
  CHECK(!r.ok());
}

TEST_CASE("a missing directory is one clear error", "[config]") {
  DirResult r = load_policy_dir("/nonexistent/goodcop-policies", LoadOptions{false});
  REQUIRE(r.diags.size() == 1);
  CHECK(r.diags[0].str() ==
        "'/nonexistent/goodcop-policies': cannot open directory: No such file or directory");
  CHECK(!r.ok());
}
