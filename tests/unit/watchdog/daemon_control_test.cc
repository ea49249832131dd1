// The control socket: lock, permissions, peer credentials, hostile input.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <thread>

#include "base/error.h"
#include "tests/support/support.h"
#include "watchdog/daemon/control_client.h"
#include "watchdog/daemon/control_server.h"

using namespace goodcop::supervisor;
using goodcop::test::TempDir;

namespace {

// A control server answering with a fixed handler on a loop in its own thread.
struct Served {
  boost::asio::io_context io;
  ControlServer server;
  std::thread thread;
  explicit Served(const std::string& path)
      : server(
            io, path,
            [](const Request& r, std::function<void(Response)> reply) {
              if (r.verb == Verb::kStatus)
                reply(Response::success({{"jails", nlohmann::json::array()}}));
              else if (r.verb == Verb::kReload)
                throw goodcop::Error("reload: boom");
              else
                reply(Response::failure(3, "no jail '" + r.jail + "'"));
            },
            ::geteuid()) {
    server.open();
    thread = std::thread([this] { io.run(); });
  }
  ~Served() {
    boost::asio::post(io, [this] { server.close(); });
    thread.join();
  }
};

Request status() { return Request{}; }

}  // namespace

TEST_CASE("control: status round-trips - the socket is 0600 in a 0700 directory",
          "[daemon][control]") {
  TempDir tmp;
  std::string path = tmp / "run/control.sock";
  {
    Served s(path);
    Response r = call_daemon(path, status());
    CHECK(r.ok);
    CHECK(r.body["jails"].is_array());
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 07777) == 0600);
    REQUIRE(::stat((tmp / "run").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0700);
    Request c;
    c.verb = Verb::kCheck;
    c.jail = "web1";
    CHECK(call_daemon(path, c).error == "no jail 'web1'");
    // A handler that throws is an error answer, and the server keeps serving.
    Request rl;
    rl.verb = Verb::kReload;
    Response bad = call_daemon(path, rl);
    CHECK(bad.exit_code == 3);
    CHECK(bad.error == "reload: boom");
    CHECK(call_daemon(path, status()).ok);
  }
  struct stat st {};
  CHECK(::lstat(path.c_str(), &st) < 0);  // close() removed the socket
}

TEST_CASE("control: garbage and oversized requests get an error, never a crash",
          "[daemon][control]") {
  TempDir tmp;
  std::string path = tmp / "control.sock";
  Served s(path);
  auto err_of = [&](const std::string& bytes) {
    std::string line = call_daemon_raw(path, bytes);
    return parse_response(line).error;
  };
  CHECK(err_of("hello\n") == "malformed request: not JSON");
  CHECK(err_of("[1,2]\n") == "malformed request: not a JSON object");
  CHECK(err_of("{}\n") == "malformed request: no 'verb'");
  CHECK(err_of(R"({"verb":7})"
               "\n") == "malformed request: 'verb' must be a string");
  CHECK(err_of(R"({"verb":"status","x":1})"
               "\n") == "malformed request: unknown key 'x'");
  CHECK(err_of(R"({"verb":"reboot"})"
               "\n") == "unknown verb 'reboot'");
  CHECK(err_of(R"({"verb":"check"})"
               "\n") == "check: no jail given");
  CHECK(err_of(R"({"verb":"check","jail":"../../etc"})"
               "\n") == "invalid jail name '../../etc'");
  CHECK(err_of(R"({"verb":"maintain","jail":"a","on":"yes"})"
               "\n") == "maintain: 'on' must be true or false");
  CHECK(err_of(std::string("\0\xff\xfe{\n", 5)) == "malformed request: not JSON");
  std::string nested(5000, '[');
  CHECK(err_of(nested + "\n") == "malformed request: not JSON");
  CHECK(err_of(std::string(kMaxRequestBytes + 100, 'a')) == "request too large");
  CHECK(err_of(std::string(kMaxRequestBytes * 4, '{') + "\n") == "request too large");
  // A malformed line does not end the conversation: the next line is answered.
  std::string two = call_daemon_raw(path, "nonsense\n{\"verb\":\"status\"}\n");
  CHECK(parse_response(two).error == "malformed request: not JSON");
  // A client that connects and hangs up at once is harmless.
  CHECK(call_daemon_raw(path, "").empty());
  CHECK(call_daemon(path, status()).ok);
}

TEST_CASE("control: a second daemon refuses the socket and the first keeps serving",
          "[daemon][control]") {
  TempDir tmp;
  std::string path = tmp / "control.sock";
  Served first(path);
  boost::asio::io_context io2;
  ControlServer second(
      io2, path, [](const Request&, std::function<void(Response)>) {}, ::geteuid());
  CHECK_THROWS_WITH(second.open(), "control socket '" + path +
                                       "' is in use by another daemon (lock '" + path +
                                       ".lock' is held)");
  second.close();  // must not unlink the first daemon's socket
  CHECK(call_daemon(path, status()).ok);
}

TEST_CASE("control: a stale socket of a dead daemon is replaced - other files are not",
          "[daemon][control]") {
  TempDir tmp;
  std::string path = tmp / "control.sock";
  {
    boost::asio::io_context io;
    ControlServer dead(
        io, path, [](const Request&, std::function<void(Response)>) {}, ::geteuid());
    dead.open();
    // Simulate a SIGKILLed daemon: the lock goes with its fd, the socket file stays.
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    std::string keep = tmp / "kept.sock";
    REQUIRE(::link(path.c_str(), keep.c_str()) == 0);
    dead.close();
    REQUIRE(::rename(keep.c_str(), path.c_str()) == 0);
  }
  {
    Served s(path);
    CHECK(call_daemon(path, status()).ok);
  }
  goodcop::test::write_text(path, "not a socket");
  boost::asio::io_context io;
  ControlServer srv(
      io, path, [](const Request&, std::function<void(Response)>) {}, ::geteuid());
  CHECK_THROWS_WITH(srv.open(), "control socket path '" + path + "' exists and is not a socket");
  CHECK(goodcop::read_file(path) == "not a socket");
}

TEST_CASE("control: a directory others can enter is refused", "[daemon][control]") {
  TempDir tmp;
  REQUIRE(::chmod(tmp.path().c_str(), 0755) == 0);
  boost::asio::io_context io;
  ControlServer srv(
      io, tmp / "control.sock", [](const Request&, std::function<void(Response)>) {}, ::geteuid());
  CHECK_THROWS_WITH(srv.open(), "control socket directory '" + tmp.path() +
                                    "' must be owned by uid " + std::to_string(::geteuid()) +
                                    " with mode 0700 (it is uid " + std::to_string(::geteuid()) +
                                    ", mode 0755)");
}

TEST_CASE("control: talking to no daemon is a clear error", "[daemon][control]") {
  TempDir tmp;
  CHECK_THROWS_WITH(call_daemon(tmp / "none.sock", status()),
                    "control socket '" + tmp / "none.sock" +
                        "': connect: No such file or directory (is the daemon running?)");
}

TEST_CASE("control: a non-root peer is refused by SO_PEERCRED", "[daemon][control][root]") {
  GOODCOP_REQUIRE_ROOT();
  TempDir tmp;
  std::string path = tmp / "control.sock";
  Served s(path);
  // An attacker who can reach the socket (here: the file made world-accessible on
  // purpose) still gets nothing: credentials are checked per connection.
  REQUIRE(::chmod(tmp.path().c_str(), 0755) == 0);
  REQUIRE(::chmod(path.c_str(), 0666) == 0);
  int pipefd[2];
  REQUIRE(::pipe(pipefd) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(pipefd[0]);
    if (::setgid(65534) < 0 || ::setuid(65534) < 0) ::_exit(10);
    std::string out;
    try {
      out = call_daemon_raw(path, R"({"verb":"status"})"
                                  "\n");
    } catch (const std::exception& e) {
      out = std::string("exception: ") + e.what();
    }
    ssize_t n = ::write(pipefd[1], out.data(), out.size());
    ::_exit(n < 0 ? 11 : 0);
  }
  ::close(pipefd[1]);
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int st = 0;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  Response r = parse_response(got);
  CHECK_FALSE(r.ok);
  CHECK(r.error == "permission denied: the control socket is root-only");
  CHECK(r.body.is_object());
  CHECK(call_daemon(path, status()).ok);
}
