// `goodcop policy check|show` through the real binary: output lines and exit codes.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "tests/support/support.h"

using goodcop::test::run;
using goodcop::test::run_goodcop;
using goodcop::test::source_dir;
using goodcop::test::TempDir;
using goodcop::test::write_text;

namespace {

std::string example(const std::string& name) { return source_dir() + "/docs/examples/" + name; }

}  // namespace

TEST_CASE("policy check: the shipped examples are valid", "[config][cli]") {
  auto r = run_goodcop({"policy", "check", example("minimal.yaml"), example("web-customer.yaml")});
  CHECK(r.err == "");
  CHECK(r.out == example("minimal.yaml") + ": OK\n" + example("web-customer.yaml") + ": OK\n");
  CHECK(r.status == 0);
  // As a directory, as the daemon would load it: they do not collide either.
  auto dir = run_goodcop({"policy", "check", source_dir() + "/docs/examples"});
  CHECK(dir.err == "");
  CHECK(dir.status == 0);
}

TEST_CASE("policy check: a broken copy exits 2 with line:column messages", "[config][cli]") {
  // What scripts/demo does to the web example.
  TempDir d;
  std::string broken = d / "broken.yaml";
  auto sed = run({"/bin/sed", "-e", "s/^  interval: .*/  interval: 5 seconds/", "-e",
                  "s/^on_tamper: .*/on_tamper: heel/", example("web-customer.yaml")});
  REQUIRE(sed.status == 0);
  REQUIRE(sed.out.find("interval: 5 seconds") != std::string::npos);
  write_text(broken, sed.out, 0600);
  auto r = run_goodcop({"policy", "check", broken, example("minimal.yaml")});
  CHECK(r.status == 2);
  CHECK(r.out == example("minimal.yaml") + ": OK\n");
  CHECK(r.err == broken +
                     ":29:13: watch.interval: expected a duration such as 500ms, 5s, 2m, 1h or "
                     "1d, got '5 seconds'\n" +
                     broken +
                     ":54:12: on_tamper: expected heal, freeze or alert, got 'heel' (did you "
                     "mean 'heal'?)\n");
}

TEST_CASE("policy check: a directory reports each file and the cross-checks", "[config][cli]") {
  TempDir d;
  write_text(d / "a.yaml", "name: a\npath: /srv/a\nip4: 198.18.0.2\nexec: {start: [/bin/sh]}\n");
  write_text(d / "b.yaml", "name: b\npath: /srv/b\nip4: 198.18.0.2\nexec: {start: [/bin/sh]}\n");
  auto r = run_goodcop({"policy", "check", "--no-strict-modes", d.path()});
  CHECK(r.status == 2);
  CHECK(r.out == d / "a.yaml" + ": OK\n");
  CHECK(r.err ==
        d / "b.yaml" + ":3:6: address 198.18.0.2 is already used by " + d / "a.yaml" + ":3:6\n");
  TempDir empty;
  auto e = run_goodcop({"policy", "check", empty.path()});
  CHECK(e.out == empty.path() + ": no policy files (*.yaml, *.yml)\n");
  CHECK(e.status == 0);
}

TEST_CASE("policy check: a missing file exits 2", "[config][cli]") {
  auto r = run_goodcop({"policy", "check", "/nonexistent/w.yaml"});
  CHECK(r.status == 2);
  CHECK(r.out == "");
  CHECK(r.err == "'/nonexistent/w.yaml': cannot open: No such file or directory\n");
}

TEST_CASE("policy check: StrictModes through the CLI and --no-strict-modes",
          "[config][cli][root]") {
  GOODCOP_REQUIRE_ROOT();
  TempDir d;
  write_text(d / "w.yaml", "name: w\npath: /srv/w\nexec: {start: [/bin/sh]}\n", 0644);
  REQUIRE(::chown((d / "w.yaml").c_str(), 1000, 1000) == 0);
  auto strict = run_goodcop({"policy", "check", d / "w.yaml"});
  CHECK(strict.status == 2);
  CHECK(strict.err == "'" + d / "w.yaml" + "': owned by uid 1000, must be owned by root\n");
  auto lax = run_goodcop({"policy", "check", "--no-strict-modes", d / "w.yaml"});
  CHECK(lax.status == 0);
  CHECK(lax.out == d / "w.yaml" + ": OK\n");
}

TEST_CASE("policy show prints the normalized policy, usage errors exit 2", "[config][cli]") {
  auto r = run_goodcop({"policy", "show", example("minimal.yaml")});
  CHECK(r.status == 0);
  CHECK(r.out.rfind("name: \"batch1\"\npath: \"/srv/jails/batch1\"\nhostname: \"batch1\"\n"
                    "network: none\n",
                    0) == 0);
  CHECK(r.out.find("\n  interval: 5s\n") != std::string::npos);
  CHECK(r.out.find("\n  dir: \"/var/lib/goodcop/evidence/batch1\"\n") != std::string::npos);
  auto missing = run_goodcop({"policy", "show", "/nonexistent.yaml"});
  CHECK(missing.status == 2);
  CHECK(run_goodcop({"policy"}).status == 2);
  CHECK(run_goodcop({"policy", "check"}).status == 2);
  auto help = run_goodcop({"policy", "check", "--help"});
  CHECK(help.status == 0);
  CHECK(help.out.find("Exit status: 0 when all are valid, 2 otherwise.") != std::string::npos);
  CHECK(help.out.find("--no-strict-modes") != std::string::npos);
}
