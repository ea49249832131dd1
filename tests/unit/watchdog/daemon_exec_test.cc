// `goodcop exec`: the client's stdio over the socket (SCM_RIGHTS), a thread per exec
// beside the jail's own calls, the limit, refusals, exit codes, descriptors closed.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <thread>

#include "tests/unit/watchdog/harness.h"
#include "watchdog/daemon/control_client.h"
#include "watchdog/daemon/control_server.h"

using namespace goodcop::test;
using goodcop::UniqueFd;

namespace {

// A pipe whose write end is passed as a stream and whose read end the test keeps.
struct Pipe {
  UniqueFd r, w;
  Pipe() {
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    r = UniqueFd(p[0]);
    w = UniqueFd(p[1]);
  }
  // Everything written until every copy of the write end is closed; "" + a failure if
  // the write end stays open (a descriptor leaked) for 10 s.
  std::string drain() {
    std::string out;
    char buf[256];
    for (;;) {
      pollfd p{r.get(), POLLIN, 0};
      if (::poll(&p, 1, 10000) <= 0) {
        FAIL_CHECK("the write end of the pipe is still open somewhere");
        return out;
      }
      ssize_t n = ::read(r.get(), buf, sizeof buf);
      if (n <= 0) return out;
      out.append(buf, static_cast<size_t>(n));
    }
  }
};

// The three streams of an exec request; the test's copies of the write ends are closed
// once the request holds its own (as a client's would be, in another process).
struct Stdio {
  Pipe in, out, err;
  std::shared_ptr<const std::vector<UniqueFd>> take() {
    auto v = std::make_shared<std::vector<UniqueFd>>();
    v->push_back(std::move(in.r));
    v->push_back(std::move(out.w));
    v->push_back(std::move(err.w));
    return v;
  }
};

Request exec_req(const std::string& jail, Strings argv) {
  Request r = req(Verb::kExec, jail);
  r.argv = std::move(argv);
  return r;
}

}  // namespace

TEST_CASE("exec: runs the command with the client's streams and passes its exit code",
          "[daemon][exec]") {
  Harness h;
  auto j = h.add("web1");
  h.sup->start();
  h.run_until([&] { return h.state("web1") == State::kRunning; });
  {
    Stdio io;
    Request r = exec_req("web1", {"ls", "-l"});
    r.fds = io.take();
    j->exec_code = 3;
    Response resp = h.call(r);
    r.fds.reset();
    REQUIRE(resp.ok);
    CHECK(resp.body["status"] == 3);
    // The daemon closed its copies: EOF after the command's output.
    CHECK(io.out.drain() == "ran ls\n");
  }
  Stdio io;
  Request r = exec_req("web1", {"missing"});
  r.fds = io.take();
  CHECK(h.call(r).body["status"] == 127);  // "not found in the jail" passes through
  CHECK(j->execs == std::vector<Strings>{{"ls", "-l"}, {"missing"}});

  Request bare = exec_req("web1", {"ls"});
  Response no_fds = h.call(bare);
  CHECK(no_fds.exit_code == 2);
  CHECK(no_fds.error == "exec: the request must carry stdin, stdout and stderr");
}

TEST_CASE("exec: a long command runs beside checks and requests - at most N at once",
          "[daemon][exec]") {
  Harness h;  // max_execs = 2
  auto j = h.add("web1");
  h.sup->start();
  h.run_until([&] { return h.state("web1") == State::kRunning; });
  j->hold_exec = true;
  Stdio io1, io2, io3;
  std::vector<std::optional<Response>> out(2);
  for (int i = 0; i < 2; ++i) {
    Request r = exec_req("web1", {"sh"});
    r.fds = (i == 0 ? io1 : io2).take();
    h.sup->handle(r, [&out, i](Response resp) { out[static_cast<size_t>(i)] = std::move(resp); });
  }
  h.run_until([&] { return j->running_execs() == 2; });
  // The jail's own calls go on while the shells stay.
  size_t checks = j->count("check");
  CHECK(h.call(req(Verb::kCheck, "web1")).body["result"] == "clean");
  h.run_until([&] { return j->count("check") > checks + 2; });
  CHECK(h.call(req(Verb::kFreeze, "web1")).body["state"] == "frozen");
  CHECK(h.call(req(Verb::kThaw, "web1")).body["state"] == "running");
  Request third = exec_req("web1", {"sh"});
  third.fds = io3.take();
  Response refused = h.call(third);
  CHECK(refused.exit_code == 3);
  CHECK(refused.error ==
        "exec: 2 commands are running already (the most this daemon allows), try again later");
  third.fds.reset();
  CHECK(io3.out.drain().empty());  // the refused request's streams are closed too
  CHECK_FALSE(out[0]);
  j->release_exec();
  h.run_until([&] { return out[0] && out[1]; });
  CHECK(out[0]->body["status"] == 0);
  CHECK(out[1]->body["status"] == 0);
}

TEST_CASE("exec: a jail that is not running refuses - a stop ends a running exec",
          "[daemon][exec]") {
  Harness h;
  auto j = h.add("web1");
  auto f = h.add("web2");
  f->fail_starts = -1;
  h.sup->start();
  h.run_until(
      [&] { return h.state("web1") == State::kRunning && h.state("web2") == State::kFailed; });
  Stdio io;
  Request r = exec_req("web2", {"sh"});
  r.fds = io.take();
  Response failed = h.call(r);
  CHECK(failed.exit_code == 3);
  CHECK(failed.error == "jail 'web2' is in state 'failed': cannot exec");
  CHECK(h.call(req(Verb::kFreeze, "web1")).ok);
  r.jail = "web1";
  CHECK(h.call(r).error == "jail 'web1' is in state 'frozen': cannot exec");
  CHECK(h.call(req(Verb::kThaw, "web1")).ok);
  // Maintenance is where upgrades run: exec works there.
  Request m = req(Verb::kMaintain, "web1");
  m.on = true;
  CHECK(h.call(m).body["state"] == "maintenance");
  j->hold_exec = true;
  std::optional<Response> out;
  h.sup->handle(r, [&](Response resp) { out = std::move(resp); });
  h.run_until([&] { return j->running_execs() == 1; });
  // The daemon stops: the jail is killed, which ends the command (128 + SIGKILL).
  bool done = false;
  h.sup->stop_all([&] { done = true; });
  h.run_until([&] { return done && out.has_value(); });
  CHECK(out->body["status"] == 137);
}

namespace {

// A control server whose exec handler plays the jail: writes to the passed stdout
// and stderr, reads stdin, answers with exit code 7.
struct ExecServer {
  boost::asio::io_context io;
  goodcop::supervisor::ControlServer server;
  std::thread thread;
  size_t last_fds = 0;
  std::vector<std::string> last_argv;
  explicit ExecServer(const std::string& path)
      : server(
            io, path,
            [this](const Request& r, std::function<void(Response)> reply) {
              last_fds = r.fds ? r.fds->size() : 0;
              last_argv = r.argv;
              if (r.verb != Verb::kExec) {
                reply(Response::success({{"jails", nlohmann::json::array()}}));
                return;
              }
              if (!r.fds || r.fds->size() != 3) {
                reply(Response::failure(2, "no stdio"));
                return;
              }
              char buf[64] = {};
              ssize_t n = ::read((*r.fds)[0].get(), buf, sizeof buf - 1);
              std::string line = "in jail: " + r.argv.at(0) + " read '" +
                                 std::string(buf, n > 0 ? static_cast<size_t>(n) : 0) + "'\n";
              if (::write((*r.fds)[1].get(), line.data(), line.size()) < 0 ||
                  ::write((*r.fds)[2].get(), "warn\n", 5) < 0)
                reply(Response::failure(3, "write failed"));
              else
                reply(Response::success({{"jail", r.jail}, {"status", 7}}));
            },
            ::geteuid()) {
    server.open();
    thread = std::thread([this] { io.run(); });
  }
  ~ExecServer() {
    boost::asio::post(io, [this] { server.close(); });
    thread.join();
  }
};

}  // namespace

TEST_CASE("exec: the CLI passes its own stdin, stdout and stderr and exits with the code",
          "[daemon][exec][cli]") {
  TempDir tmp;
  std::string path = tmp / "control.sock";
  ExecServer s(path);
  auto r = run_goodcop({"exec", "--socket", path, "web1", "cat", "-n"}, "hello");
  CHECK(r.status == 7);
  CHECK(r.out == "in jail: cat read 'hello'\n");
  CHECK(r.err == "warn\n");
}

TEST_CASE("exec: the command follows JAIL or a '--' after it and keeps its own options",
          "[daemon][exec][cli]") {
  TempDir tmp;
  std::string path = tmp / "control.sock";
  ExecServer s(path);
  using Argv = std::vector<std::string>;
  CHECK(run_goodcop({"exec", "--socket", path, "web1", "sh", "-c", "x -- y"}).status == 7);
  CHECK(s.last_argv == Argv{"sh", "-c", "x -- y"});
  CHECK(run_goodcop({"exec", "--socket", path, "web1", "--", "sh", "-c", "--help"}).status == 7);
  CHECK(s.last_argv == Argv{"sh", "-c", "--help"});
  CHECK(run_goodcop({"exec", "--socket", path, "web1", "--", "ls", "--", "-l"}).status == 7);
  CHECK(s.last_argv == Argv{"ls", "--", "-l"});
  CHECK(run_goodcop({"exec", "--socket", path, "web1", "ls", "--", "-l"}).status == 7);
  CHECK(s.last_argv == Argv{"ls", "--", "-l"});
  // goodcop's options come before JAIL: after it they are the command's.
  CHECK(run_goodcop({"exec", "--socket", path, "web1", "--socket", "x"}).status == 7);
  CHECK(s.last_argv == Argv{"--socket", "x"});
  auto none = run_goodcop({"exec", "--socket", path, "web1", "--"});
  CHECK(none.status == 2);
  CHECK(none.err == "goodcop: exec: no command: goodcop exec JAIL COMMAND [ARG...]\n");
  auto nojail = run_goodcop({"exec", "--socket", path});
  CHECK(nojail.status == 2);
  CHECK(nojail.err ==
        "goodcop: exec: no jail: goodcop exec [--socket PATH] JAIL COMMAND [ARG...]\n");
}

TEST_CASE("exec: descriptors are capped and never kept for other requests",
          "[daemon][exec][control]") {
  TempDir tmp;
  std::string path = tmp / "control.sock";
  ExecServer s(path);
  // Four descriptors: the kernel drops the fourth (our control buffer holds three), and
  // the request is refused.
  Pipe a, b, c, d;
  std::string line = goodcop::supervisor::format_request(exec_req("web1", {"sh"}));
  auto resp = goodcop::supervisor::parse_response(goodcop::supervisor::call_daemon_raw(
      path, line, {a.r.get(), b.w.get(), c.w.get(), d.w.get()}));
  CHECK(resp.exit_code == 2);
  CHECK(resp.error == "too many descriptors passed (at most 3)");
  // A status request carrying a descriptor: answered, and the descriptor closed.
  Pipe p;
  auto st = goodcop::supervisor::call_daemon(path, Request{}, {p.w.get()});
  CHECK(st.ok);
  CHECK(s.last_fds == 0);
  p.w.reset();
  CHECK(p.drain().empty());  // EOF: the daemon kept no copy
  for (Pipe* q : {&b, &c, &d}) {
    q->w.reset();
    CHECK(q->drain().empty());
  }
}

TEST_CASE("cli: snapshot, seal and rollback print the daemon's answer", "[daemon][cli]") {
  TempDir tmp;
  std::string path = tmp / "control.sock";
  boost::asio::io_context io;
  goodcop::supervisor::ControlServer server(
      io, path,
      [](const Request& r, std::function<void(Response)> reply) {
        if (r.verb == Verb::kSnapshot)
          reply(Response::success({{"jail", r.jail}, {"evidence", "/ev/web1-1Z-snapshot.tar"}}));
        else if (r.verb == Verb::kSeal)
          reply(Response::success({{"jail", r.jail}, {"result", "golden version 3 sealed"}}));
        else if (r.verb == Verb::kRollback && r.version == "2")
          reply(Response::success(
              {{"jail", r.jail}, {"state", "running"}, {"result", "golden version 2 is current"}}));
        else
          reply(Response::failure(
              3, "jail '" + r.jail + "': rollback: no golden version '" + r.version + "'"));
      },
      ::geteuid());
  server.open();
  std::thread t([&] { io.run(); });
  auto snap = run_goodcop({"snapshot", "web1", "--socket", path});
  CHECK(snap.status == 0);
  CHECK(snap.out == "/ev/web1-1Z-snapshot.tar\n");
  auto rb = run_goodcop({"rollback", "web1", "2", "--socket", path});
  CHECK(rb.status == 0);
  CHECK(rb.out == "web1: golden version 2 is current, running\n");
  auto bad = run_goodcop({"rollback", "web1", "9", "--socket", path});
  CHECK(bad.status == 3);
  CHECK(bad.err == "goodcop: rollback: jail 'web1': rollback: no golden version '9'\n");
  boost::asio::post(io, [&] { server.close(); });
  t.join();
}
