// `goodcop jail`: the classic jail(8) form, its exit codes and its one-line errors.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "base/fd.h"
#include "tests/support/support.h"
#include "tests/unit/kernel/jail_fixture.h"

using namespace goodcop::test;

TEST_CASE("goodcop jail runs a command and passes stdio through", "[kernel][cli][root]") {
  GOODCOP_REQUIRE_ROOT();
  RunResult r = run_goodcop(
      {"jail", jail_rootfs(), "myhost", "-", "sh", "-c", "hostname; cat; echo err >&2; exit 3"},
      "from stdin\n");
  CHECK(r.out == "myhost\nfrom stdin\n");
  CHECK(r.err == "err\n");
  CHECK(r.status == 3);
}

TEST_CASE("goodcop jail exits 128+N when the command dies of signal N", "[kernel][cli][root]") {
  GOODCOP_REQUIRE_ROOT();
  RunResult r = run_goodcop({"jail", jail_rootfs(), "h", "-", "sh", "-c", "kill -TERM $$"});
  CHECK(r.status == 143);
}

TEST_CASE("goodcop jail: a command not in the jail exits 127", "[kernel][cli][root]") {
  GOODCOP_REQUIRE_ROOT();
  RunResult r = run_goodcop({"jail", jail_rootfs(), "h", "-", "no-such-cmd"});
  CHECK(r.err == "goodcop: jail: 'no-such-cmd': not found in jail\n");
  CHECK(r.status == 127);
}

TEST_CASE("goodcop jail / shows the host read-only with a private /tmp", "[kernel][cli][root]") {
  GOODCOP_REQUIRE_ROOT();
  TempDir host_tmp;
  RunResult r = run_goodcop({"jail", "/", "myhost", "127.0.0.1", "sh", "-c",
                             "test -d '" + host_tmp.path() +
                                 "' || echo private-tmp; touch /tmp/scratch && echo tmp-ok; "
                                 "touch /etc/goodcop-planted 2>&1; grep -c root /etc/passwd"});
  CHECK(r.err == "");
  CHECK(r.out ==
        "private-tmp\ntmp-ok\ntouch: cannot touch '/etc/goodcop-planted': Read-only file "
        "system\n1\n");
  CHECK(::access("/etc/goodcop-planted", F_OK) != 0);
  CHECK(::access("/tmp/scratch", F_OK) != 0);
  CHECK(r.status == 0);
}

TEST_CASE("goodcop jail: the jail's 127.0.0.1 is its own", "[kernel][cli][root]") {
  GOODCOP_REQUIRE_ROOT();
  RunResult r =
      run_goodcop({"jail", jail_rootfs(), "h", "127.0.0.2", "sh", "-c",
                   "ip -o addr show lo | awk '{print $4}' | head -1; ip link | grep -c '^[0-9]'"});
  CHECK(r.out == "127.0.0.1/8\n1\n");
}

TEST_CASE("goodcop jail refuses bad input with one line and exit 2", "[kernel][cli]") {
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  write_text(dir / "file", "x");
  TempDir open_dir;
  ::chmod(open_dir.path().c_str(), 0777);
  struct Case {
    std::vector<std::string> args;
    std::string err;
  };
  const std::string p = dir.path();
  std::vector<Case> cases = {
      {{"jail", p + "/missing", "h", "-", "sh"},
       "goodcop: jail: '" + p + "/missing': no such directory\n"},
      {{"jail", p + "/file", "h", "-", "sh"}, "goodcop: jail: '" + p + "/file': not a directory\n"},
      {{"jail", open_dir.path(), "h", "-", "sh"},
       "goodcop: jail: '" + open_dir.path() + "': writable by others\n"},
      {{"jail", p, "h", "198.18.0.300", "sh"},
       "goodcop: jail: invalid IP address '198.18.0.300'\n"},
      {{"jail", p, "h", "198.18.0.2,198.18.0.2", "sh"},
       "goodcop: jail: duplicate IP address '198.18.0.2'\n"},
      {{"jail", p, std::string(65, 'h'), "-", "sh"},
       "goodcop: jail: hostname '" + std::string(65, 'h') +
           "' is too long (65 characters, at most 64)\n"},
      {{"jail", p, "h", "-"},
       "goodcop: jail: expected PATH HOSTNAME IP[,IP...] COMMAND [ARG...]\n"},
      {{"jail", "--net", "bogus", p, "h", "-", "sh"},
       "goodcop: jail: invalid network mode 'bogus' (none, veth or host)\n"},
      {{"jail", "--caps", "chown,nope", p, "h", "-", "sh"},
       "goodcop: jail: unknown capability 'nope'\n"},
  };
  for (const Case& c : cases) {
    RunResult r = run_goodcop(c.args);
    INFO(c.args[1]);
    CHECK(r.err == c.err);
    CHECK(r.out == "");
    CHECK(r.status == 2);
  }
}

TEST_CASE("goodcop jail refuses a tree not owned by root", "[kernel][cli][root]") {
  GOODCOP_REQUIRE_ROOT();
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  REQUIRE(::chown(dir.path().c_str(), 1000, 1000) == 0);
  RunResult r = run_goodcop({"jail", dir.path(), "h", "-", "sh"});
  CHECK(r.err == "goodcop: jail: '" + dir.path() + "': not owned by root\n");
  CHECK(r.status == 2);
}

TEST_CASE("goodcop jail options: user, read-only root, binds, environment, caps",
          "[kernel][cli][root]") {
  GOODCOP_REQUIRE_ROOT();
  TempDir data;
  ::chmod(data.path().c_str(), 0777);
  RunResult r =
      run_goodcop({"jail", "-u", "1000:1000", "--read-only", "--caps", "none", "--cwd", "/data",
                   "-e", "A=b", "--bind-rw", data.path() + ":/data", jail_rootfs(), "h", "-", "sh",
                   "-c", "id -u; echo $A; pwd; touch /x 2>/dev/null || echo ro; touch ok"});
  CHECK(r.err == "");
  CHECK(r.out == "1000\nb\n/data\nro\n");
  struct stat st {};
  REQUIRE(::stat((data / "ok").c_str(), &st) == 0);
  CHECK(st.st_uid == 1000);
}

TEST_CASE("goodcop jail runs with neither goodcop-core nor the helper next to it",
          "[kernel][cli][root]") {
  GOODCOP_REQUIRE_ROOT();
  // The front alone: it runs the jail verb itself and serves the setup modes itself.
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  const std::string lone = dir / "goodcop";
  write_text(lone, goodcop::read_file(GOODCOP_BINARY, 256u << 20), 0755);
  RunResult r = run({lone, "jail", jail_rootfs(), "lonehost", "-", "sh", "-c",
                     "hostname; echo $$; exit 5"});
  CHECK(r.err == "");
  CHECK(r.out == "lonehost\n2\n");
  CHECK(r.status == 5);
}

TEST_CASE("goodcop jail with an address and limits gets a veth and a cgroup and leaves neither",
          "[kernel][cli][root]") {
  GOODCOP_REQUIRE_ROOT();
  // The front's own path through rtnetlink (libmnl) and the cgroup layer. No traffic is sent:
  // the jail lists its address and route, then hits its process limit with background sleeps.
  RunResult r = run_goodcop(
      {"jail", "--name", "clitest", "--memory", "64M", "--pids", "8", jail_rootfs(), "h",
       "198.18.7.2", "sh", "-c",
       "ip -o -4 addr show eth0 | awk '{print $4}'; ip -4 route | head -1 | cut -d' ' -f1; "
       "i=0; while [ $i -lt 8 ]; do sleep 0.5 & i=$((i+1)); done; wait"});
  INFO(r.err);
  CHECK(r.out == "198.18.7.2/32\ndefault\n");
  CHECK(r.err.find("Resource temporarily unavailable") != std::string::npos);
  // Nothing of it is left on the host.
  CHECK(run({"ip", "link", "show", "gc-clitest"}).status != 0);
  for (const char* base :
       {"/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified"}) {
    INFO(base);
    CHECK(run({"sh", "-c", std::string("ls -d ") + base + "/goodcop/*clitest* 2>/dev/null"}).out ==
          "");
  }
}
