// The jail as its command sees it: processes, hostname, identity, filesystem, /dev, /proc.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "base/error.h"
#include "base/fd.h"
#include "kernel/jail.h"
#include "tests/support/support.h"
#include "tests/unit/kernel/jail_fixture.h"

using namespace goodcop;
using namespace goodcop::test;

TEST_CASE("the command is pid 2 under goodcop's init and sees only the jail's processes",
          "[kernel][jail][root]") {
  GOODCOP_REQUIRE_ROOT();
  // A builtin glob: no extra process is forked to list /proc.
  JailRun r = run_jail(jail_spec({"sh", "-c", "echo $$; echo /proc/[0-9]*"}));
  CHECK(r.err == "");
  CHECK(r.out == "2\n/proc/1 /proc/2\n");
  CHECK(r.status == 0);
}

TEST_CASE("with init mode 'jail' the command itself is pid 1", "[kernel][jail][root]") {
  GOODCOP_REQUIRE_ROOT();
  kernel::JailSpec spec = jail_spec({"sh", "-c", "echo $$; readlink /proc/1/exe"});
  spec.init = kernel::InitMode::kJail;
  JailRun r = run_jail(spec);
  CHECK(r.out == "1\n/bin/busybox\n");
  CHECK(r.status == 0);
}

TEST_CASE("the jail has its own hostname and the host's is untouched", "[kernel][jail][root]") {
  GOODCOP_REQUIRE_ROOT();
  utsname before{};
  ::uname(&before);
  JailRun r = run_jail(jail_spec({"hostname"}));
  CHECK(r.out == "jailhost\n");
  utsname after{};
  ::uname(&after);
  CHECK(std::string(after.nodename) == before.nodename);
}

TEST_CASE("the jail's root is an unprivileged host uid range", "[kernel][jail][userns][root]") {
  GOODCOP_REQUIRE_ROOT();
  kernel::JailSpec spec = jail_spec({"sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id"});
  spec.host_id_base = 0x20000000;
  JailRun r = run_jail(spec);
  CHECK(r.out ==
        "         0  536870912      65536\n"
        "         0  536870912      65536\n"
        "uid=0(root) gid=0(root) groups=0(root)\n");  // its group alone, as numeric -u
}

TEST_CASE("the host id range is derived from the name unless given", "[kernel][jail][userns]") {
  kernel::JailSpec a, b;
  a.name = "web1";
  b.name = "web2";
  CHECK(kernel::host_id_base(a) >= 0x10000000u);
  CHECK(kernel::host_id_base(a) % 65536 == 0);
  CHECK(kernel::host_id_base(a) != kernel::host_id_base(b));
  a.host_id_base = 0x30000000;
  CHECK(kernel::host_id_base(a) == 0x30000000u);
}

TEST_CASE("files keep their ordinary owners on disk through the idmapped mount",
          "[kernel][jail][userns][root]") {
  GOODCOP_REQUIRE_ROOT();
  TempDir data;
  write_text(data / "host-file", "x");
  kernel::JailSpec spec =
      jail_spec({"sh", "-c",
                 "ls -ln /data/host-file | awk '{print $3\":\"$4}'; touch /data/by-root; "
                 "touch /data/by-user; chown 1000:1000 /data/by-user"});
  spec.binds.push_back({data.path(), "/data", true});
  JailRun r = run_jail(spec);
  CHECK(r.err == "");
  CHECK(r.out == "0:0\n");
  struct stat st {};
  REQUIRE(::stat((data / "by-root").c_str(), &st) == 0);
  CHECK(st.st_uid == 0);
  REQUIRE(::stat((data / "by-user").c_str(), &st) == 0);
  CHECK(st.st_uid == 1000);
  CHECK(st.st_gid == 1000);
}

TEST_CASE("a read-only bind can't be written, a writable one can", "[kernel][jail][root]") {
  GOODCOP_REQUIRE_ROOT();
  TempDir ro, rw;
  kernel::JailSpec spec = jail_spec({"sh", "-c", "touch /mnt/x 2>&1; touch /data/y && echo ok"});
  spec.binds.push_back({ro.path(), "/mnt", false});
  spec.binds.push_back({rw.path(), "/data", true});
  JailRun r = run_jail(spec);
  CHECK(r.out == "touch: /mnt/x: Read-only file system\nok\n");
  CHECK(::access((ro / "x").c_str(), F_OK) != 0);
  CHECK(::access((rw / "y").c_str(), F_OK) == 0);
}

TEST_CASE("a read-only root can't be written", "[kernel][jail][root]") {
  GOODCOP_REQUIRE_ROOT();
  kernel::JailSpec spec = jail_spec({"sh", "-c", "exec 2>&1; touch /etc/planted; echo x > /tmp/t"});
  spec.read_only_root = true;
  JailRun r = run_jail(spec);
  CHECK(r.out ==
        "touch: /etc/planted: Read-only file system\n"
        "sh: can't create /tmp/t: Read-only file system\n");
}

TEST_CASE("/dev holds only the minimal devices", "[kernel][jail][root]") {
  GOODCOP_REQUIRE_ROOT();
  JailRun r = run_jail(jail_spec({"sh", "-c", "ls /dev | tr '\\n' ' '; echo; ls /dev/pts"}));
  CHECK(r.out ==
        "console fd full null ptmx pts random shm stderr stdin stdout tty urandom zero \n"
        "0\nptmx\n");
}

TEST_CASE("the console is a pty of the jail's own devpts, drained by init",
          "[kernel][jail][root]") {
  GOODCOP_REQUIRE_ROOT();
  JailRun r = run_jail(jail_spec({"sh", "-c", "echo to-console > /dev/console; echo done"}));
  CHECK(r.out == "done\n");
  // init copies the console to its stderr (the pty turns \n into \r\n).
  CHECK(r.err == "to-console\r\n");
}

TEST_CASE("/proc is the jail's own with the sensitive files masked", "[kernel][jail][root]") {
  GOODCOP_REQUIRE_ROOT();
  bool userns = GENERATE(true, false);
  kernel::JailSpec spec =
      jail_spec({"sh", "-c",
                 "wc -c < /proc/timer_list; wc -c < /proc/keys; ls /proc/acpi | wc -l; "
                 "echo 1 > /proc/sys/vm/drop_caches 2>/dev/null || echo ro; "
                 "echo h > /proc/sysrq-trigger 2>/dev/null || echo ro"});
  spec.userns = userns;
  JailRun r = run_jail(spec);
  CHECK(r.out == "0\n0\n0\nro\nro\n");
}

TEST_CASE("/sys is absent", "[kernel][jail][root]") {
  GOODCOP_REQUIRE_ROOT();
  JailRun r = run_jail(jail_spec({"sh", "-c", "ls -A /sys | wc -l"}));
  CHECK(r.out == "0\n");
}

TEST_CASE("the command gets its environment, working directory and user", "[kernel][jail][root]") {
  GOODCOP_REQUIRE_ROOT();
  kernel::JailSpec spec = jail_spec({"sh", "-c", "echo $GREETING; pwd; id -u; id -g; echo $PATH"});
  spec.env = {"GREETING=hello"};
  spec.cwd = "/tmp";
  spec.uid = 1000;
  spec.gid = 1001;
  JailRun r = run_jail(spec);
  CHECK(r.out ==
        "hello\n/tmp\n1000\n1001\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
}

TEST_CASE("an unprivileged jail user has no capabilities, root only the kept ones",
          "[kernel][jail][caps][root]") {
  GOODCOP_REQUIRE_ROOT();
  kernel::JailSpec spec =
      jail_spec({"sh", "-c", "grep -E '^Cap(Eff|Bnd)|NoNewPrivs|Seccomp:' /proc/self/status"});
  JailRun root = run_jail(spec);
  CHECK(root.out ==
        "CapEff:\t00000000200404fb\nCapBnd:\t00000000200404fb\nNoNewPrivs:\t1\nSeccomp:\t2\n");
  spec.uid = 1000;
  JailRun user = run_jail(spec);
  CHECK(user.out ==
        "CapEff:\t0000000000000000\nCapBnd:\t00000000200404fb\nNoNewPrivs:\t1\nSeccomp:\t2\n");
}

TEST_CASE("inherited fds are closed before the command runs", "[kernel][jail][root]") {
  GOODCOP_REQUIRE_ROOT();
  // Not O_CLOEXEC, as a careless library would leave it.
  int leaked = ::open("/", O_RDONLY | O_DIRECTORY);
  REQUIRE(leaked >= 0);
  UniqueFd guard(leaked);
  JailRun r = run_jail(jail_spec({"sh", "-c", "ls /proc/self/fd | tr '\\n' ' '"}));
  CHECK(r.out == "0 1 2 3 ");  // 3: ls's own directory fd
}

TEST_CASE("a failing step is reported with the step, the path and errno", "[kernel][jail][root]") {
  GOODCOP_REQUIRE_ROOT();
  TempDir bare;  // no /proc, /dev in it
  ::chmod(bare.path().c_str(), 0755);
  kernel::JailSpec spec = jail_spec({"true"});
  spec.root = bare.path();
  spec.name = "bare";
  try {
    kernel::start(spec, jail_helper());
    FAIL("started");
  } catch (const SysError& e) {
    CHECK(std::string(e.what()) ==
          "jail 'bare': mount '" + bare.path() + "/proc': No such file or directory");
    CHECK(e.code() == ENOENT);
  }
}

TEST_CASE("a command missing in the jail is ENOENT at execve", "[kernel][jail][root]") {
  GOODCOP_REQUIRE_ROOT();
  kernel::JailSpec spec = jail_spec({"no-such-command"});
  spec.name = "nf";
  try {
    kernel::start(spec, jail_helper());
    FAIL("started");
  } catch (const SysError& e) {
    CHECK(std::string(e.what()) ==
          "jail 'nf': execve 'no-such-command': No such file or directory");
  }
}

TEST_CASE("invalid specs are refused before anything runs", "[kernel][jail]") {
  auto jail_spec = [](std::vector<std::string> argv) {
    kernel::JailSpec s;
    s.name = "t";
    s.root = "/nonexistent";
    s.argv = std::move(argv);
    return s;
  };
  kernel::JailSpec spec = jail_spec({"true"});
  spec.root = "relative";
  CHECK_THROWS_WITH(kernel::start(spec, jail_helper()),
                    "jail '" + spec.name + "': root 'relative' is not absolute");
  spec = jail_spec({});
  CHECK_THROWS_WITH(kernel::start(spec, jail_helper()), "jail '" + spec.name + "': no command");
  spec = jail_spec({"true"});
  spec.name = "bad/name";
  CHECK_THROWS_WITH(kernel::start(spec, jail_helper()), "jail 'bad/name': invalid name");
  spec = jail_spec({"true"});
  spec.binds.push_back({"/tmp", "/mnt/../..", false});
  CHECK_THROWS_WITH(
      kernel::start(spec, jail_helper()),
      "jail '" + spec.name + "': bind '/tmp:/mnt/../..' needs absolute paths without '..'");
}
