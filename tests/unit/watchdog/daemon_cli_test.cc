// `goodcop daemon` and the control verbs, end to end through the binary.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/support.h"

using goodcop::test::run_goodcop;
using goodcop::test::TempDir;

namespace {

// `goodcop daemon` in the background; killed (SIGKILL) if a test leaves it running.
class DaemonProcess {
 public:
  explicit DaemonProcess(const std::vector<std::string>& args) {
    int err[2];
    REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
    std::vector<std::string> argv{GOODCOP_BINARY, "daemon"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(err[1], 2);
      int devnull = ::open("/dev/null", O_RDWR);
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
      ::execv(cargv[0], cargv.data());
      ::_exit(127);
    }
    ::close(err[1]);
    err_ = err[0];
  }
  ~DaemonProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (err_ >= 0) ::close(err_);
  }
  // Reads stderr until `text` appears (or EOF); a 20 s guard turns a hang into a failure.
  bool wait_for(const std::string& text) {
    while (stderr_.find(text) == std::string::npos) {
      pollfd p{err_, POLLIN, 0};
      int rc = ::poll(&p, 1, 20000);
      if (rc <= 0) return false;
      char buf[4096];
      ssize_t n = ::read(err_, buf, sizeof buf);
      if (n <= 0) return false;
      stderr_.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  // Sends sig and returns the exit status (128+signal if killed).
  int stop(int sig) {
    ::kill(pid_, sig);
    wait_for("\x01never");  // drain stderr to EOF
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  const std::string& err() const { return stderr_; }

 private:
  pid_t pid_ = -1;
  int err_ = -1;
  std::string stderr_;
};

}  // namespace

TEST_CASE("daemon: status works end to end and SIGTERM stops it cleanly", "[daemon][cli]") {
  TempDir tmp;
  ::mkdir((tmp / "policies").c_str(), 0755);
  goodcop::test::write_text(tmp / "policies/web1.yaml", "name: web1\n");
  std::string sock = tmp / "run/control.sock";
  DaemonProcess d({"--policies", tmp / "policies", "--state", tmp / "state", "--socket", sock});
  REQUIRE(d.wait_for("daemon ready"));
  // A broken policy is reported; the daemon starts anyway (with the good ones: none here).
  std::string broken = tmp / "policies/web1.yaml:1:1: missing required key 'path'";
  CHECK(d.err().find("goodcop: error: " + broken + "\n") != std::string::npos);
  CHECK(d.err().find("goodcop: info: daemon ready: control socket '" + sock + "'\n") !=
        std::string::npos);

  auto st = run_goodcop({"status", "--socket", sock});
  CHECK(st.status == 0);
  CHECK(st.out == "JAIL  STATE  ADDRESS  LAST CHECK  TOOK  LAST INCIDENT  RESTARTS\n");
  CHECK(st.err.empty());
  auto js = run_goodcop({"status", "--json", "--socket", sock});
  CHECK(js.status == 0);
  CHECK(nlohmann::json::parse(js.out) == nlohmann::json{{"jails", nlohmann::json::array()}});

  auto chk = run_goodcop({"check", "web1", "--socket", sock});
  CHECK(chk.status == 3);
  CHECK(chk.err == "goodcop: check: no jail 'web1'\n");
  // (`seal` and `restore` JAIL are served by the offline verbs until the lead merges the forms.)
  for (const char* verb : {"snapshot", "rollback", "freeze", "thaw"}) {
    auto r = run_goodcop({verb, "web1", "--socket", sock});
    CHECK(r.status == 3);
    CHECK(r.err == std::string("goodcop: ") + verb + ": no jail 'web1'\n");
  }
  auto ex = run_goodcop({"exec", "--socket", sock, "web1", "ls", "-l"});
  CHECK(ex.status == 3);
  CHECK(ex.err == "goodcop: exec: no jail 'web1'\n");
  auto rl = run_goodcop({"reload", "--socket", sock});
  // The good changes are applied; the broken file is printed and the exit code is 2.
  CHECK(rl.status == 2);
  CHECK(rl.out == "reloaded: 0 added, 0 restarted, 0 removed, 0 unchanged\n");
  CHECK(rl.err.find("goodcop: reload: " + broken + "\n") == 0);
  auto mt = run_goodcop({"maintain", "web1", "sideways", "--socket", sock});
  CHECK(mt.status == 2);
  CHECK(mt.err == "goodcop: maintain: expected 'on' or 'off', got 'sideways'\n");

  // A second daemon on the same socket refuses, and the first keeps serving.
  auto second = run_goodcop(
      {"daemon", "--policies", tmp / "policies", "--state", tmp / "state2", "--socket", sock});
  CHECK(second.status == 3);
  CHECK(second.err == "goodcop: daemon: control socket '" + sock +
                          "' is in use by another daemon (lock '" + sock + ".lock' is held)\n");
  CHECK(run_goodcop({"status", "--socket", sock}).status == 0);

  CHECK(d.stop(SIGTERM) == 0);
  CHECK(d.err().find("goodcop: info: SIGTERM: stopping every jail\n") != std::string::npos);
  CHECK(d.err().find("goodcop: info: daemon stopped\n") != std::string::npos);
  struct stat sb {};
  CHECK(::lstat(sock.c_str(), &sb) < 0);  // the socket is gone

  auto none = run_goodcop({"status", "--socket", sock});
  CHECK(none.status == 3);
  CHECK(none.err == "goodcop: status: control socket '" + sock +
                        "': connect: No such file or directory (is the daemon running?)\n");
}

TEST_CASE("daemon: a daemon killed with SIGKILL is replaced by the next one", "[daemon][cli]") {
  TempDir tmp;
  ::mkdir((tmp / "policies").c_str(), 0755);
  std::string sock = tmp / "control.sock";
  std::vector<std::string> args{"--policies",  tmp / "policies", "--state",
                                tmp / "state", "--socket",       sock};
  {
    DaemonProcess d(args);
    REQUIRE(d.wait_for("daemon ready"));
    CHECK(d.stop(SIGKILL) == 128 + SIGKILL);
  }
  struct stat sb {};
  CHECK(::lstat(sock.c_str(), &sb) == 0);  // left behind by the dead daemon
  DaemonProcess d2(args);
  REQUIRE(d2.wait_for("daemon ready"));
  CHECK(run_goodcop({"status", "--socket", sock}).status == 0);
  CHECK(d2.stop(SIGINT) == 0);
}

TEST_CASE("daemon: usage errors", "[daemon][cli]") {
  TempDir tmp;
  auto nodir = run_goodcop({"daemon", "--policies", tmp / "missing"});
  CHECK(nodir.status == 2);
  CHECK(nodir.err ==
        "goodcop: daemon: policy directory '" + tmp / "missing" + "': No such file or directory\n");
  auto noarg = run_goodcop({"daemon"});
  CHECK(noarg.status == 2);
  auto nojail = run_goodcop({"check"});
  CHECK(nojail.status == 2);
}
