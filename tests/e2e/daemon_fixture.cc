#include "tests/e2e/daemon_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/error.h"
#include "base/fd.h"
#include "kernel/cgroup.h"
#include "kernel/net.h"
#include "kernel/netlink.h"

namespace goodcop::test {
namespace {

using namespace std::chrono_literals;

std::string yaml_list(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", '" : "'") + v[i] + "'";
  return s + "]";
}

void must(const RunResult& r, const std::string& what) {
  if (r.status != 0)
    FAIL(what << " failed (" << r.status << "): " << r.out << r.err);
}

}  // namespace

struct DaemonFixture::Route {
  UnreachableRoute guard;
  explicit Route(const Address& a) : guard(a) {}
};

std::string original_page(const std::string& jail) {
  return "<!doctype html>\n<title>" + jail + "</title>\n<h1>Welcome to " + jail +
         "</h1>\n<p>Served from a goodcop jail.</p>\n";
}

DaemonFixture::DaemonFixture() {
  tmp_ = std::make_unique<TempDir>();
  root_ = tmp_->path() + "/t";
  REQUIRE(::mkdir(root_.c_str(), 0755) == 0);
  // Many small files: a tmpfs, not this machine's slow root filesystem.
  REQUIRE(::mount("goodcop-e2e", root_.c_str(), "tmpfs", MS_NOSUID, "mode=0755,size=1g") == 0);
  mounted_ = true;
  for (const char* d : {"/policies", "/state", "/run", "/src", "/golden", "/evidence", "/jails"})
    REQUIRE(::mkdir((root_ + d).c_str(), 0700) == 0);
  ::chmod((root_ + "/policies").c_str(), 0755);
  route_ = std::make_unique<Route>(parse_address("198.18.0.0/15").value);
  stderr_file_ = tmp_->path() + "/daemon.err";
}

DaemonFixture::~DaemonFixture() {
  try {
    if (daemon_ > 0) {
      ::kill(daemon_, SIGTERM);
      bool gone = false;
      for (int i = 0; i < 600 && !gone; ++i) {
        int st = 0;
        gone = ::waitpid(daemon_, &st, WNOHANG) == daemon_;
        if (!gone) std::this_thread::sleep_for(50ms);
      }
      if (!gone) {
        ::kill(daemon_, SIGKILL);
        ::waitpid(daemon_, nullptr, 0);
      }
      daemon_ = -1;
    }
    cleanup_jails();
  } catch (const std::exception& e) {
    WARN("e2e cleanup: " << e.what());
  }
  if (mounted_) ::umount2(root_.c_str(), MNT_DETACH);
}

void DaemonFixture::cleanup_jails() {
  // What a SIGKILLed daemon left: jails keep running without it (by design), and their
  // overlays stay mounted. Kill them through their cgroups, drop their veths, unmount.
  for (const auto& j : jails_) {
    JailCgroup::clean_stale(j.name);
    Veth::clean_stale(j.name);
    ::umount2(jail_path(j.name).c_str(), MNT_DETACH);
  }
}

void DaemonFixture::write_policy(const JailSetup& j) {
  std::vector<std::string> start = j.start;
  if (start.empty()) start = {"/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"};
  std::ostringstream y;
  y << "name: " << j.name << "\n"
    << "path: " << jail_path(j.name) << "\n"
    << "network: veth\n"
    << "ip4: [198.18." << j.index << ".2]\n"
    << "exec:\n  start: " << yaml_list(start) << "\n"
    << (j.user.empty() ? std::string() : "  user: " + j.user + "\n")
    << "golden: " << golden(j.name) << "\n"
    << "storage: " << j.storage << "\n"
    << "keep: [/var/uploads]\n"
    << "userns: " << (j.userns ? "true" : "false") << "\n"
    << "watch:\n  interval: " << j.interval << "\n  triggers: " << (j.triggers ? "true" : "false")
    << "\n"
    << "on_tamper: " << j.on_tamper << "\n"
    << "evidence:\n  dir: " << evidence_dir(j.name) << "\n"
    << "restart:\n  backoff: 1s\n  max: 3\n"
    << j.extra;
  std::string file = policies() + "/" + j.name + ".yaml";
  std::string tmp = file + ".tmp";
  write_text(tmp, y.str(), 0600);
  REQUIRE(::rename(tmp.c_str(), file.c_str()) == 0);
}

void DaemonFixture::add_jail(const JailSetup& j) {
  jails_.push_back(j);
  must(run({source_dir() + "/demo/make-jail-tree", src_path(j.name), j.name}), "make-jail-tree");
  must(run_goodcop({"seal", src_path(j.name), "--golden", golden(j.name)}), "seal");
  write_policy(j);
}

void DaemonFixture::start_daemon(bool wait_running) {
  REQUIRE(daemon_ < 0);
  std::vector<std::string> args = {GOODCOP_BINARY, "daemon",           "--policies", policies(),
                                   "--state",      state_dir(),        "--socket",   socket(),
                                   "--events",     event_log()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int err = ::open(stderr_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  REQUIRE(err >= 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(err, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(err);
  daemon_ = pid;
  if (!wait_running) return;
  for (const auto& j : jails_) {
    if (!wait_state(j.name, "running", 30s))
      FAIL("jail '" << j.name << "' not running; state '" << state_of(j.name) << "'\n"
                    << daemon_log());
  }
}

int DaemonFixture::stop_daemon(int sig) {
  REQUIRE(daemon_ > 0);
  ::kill(daemon_, sig);
  int st = 0;
  REQUIRE(::waitpid(daemon_, &st, 0) == daemon_);
  daemon_ = -1;
  return st;
}

RunResult DaemonFixture::ctl(std::vector<std::string> args) {
  args.insert(args.begin() + 1, {"--socket", socket()});
  return run_goodcop(args);
}

std::string DaemonFixture::state_of(const std::string& jail) {
  RunResult r = ctl({"status", "--json"});
  if (r.status != 0) return "";
  try {
    auto j = nlohmann::json::parse(r.out);
    for (const auto& row : j.at("jails"))
      if (row.at("jail") == jail) return row.at("state").get<std::string>();
  } catch (const std::exception&) {
  }
  return "";
}

bool DaemonFixture::wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= until) return pred();
    std::this_thread::sleep_for(50ms);
  }
}

bool DaemonFixture::wait_state(const std::string& jail, const std::string& state,
                               std::chrono::milliseconds timeout) {
  return wait_for([&] { return state_of(jail) == state; }, timeout);
}

std::string DaemonFixture::address(const std::string& jail) const {
  for (const auto& j : jails_)
    if (j.name == jail) return "198.18." + std::to_string(j.index) + ".2";
  FAIL("no jail '" << jail << "' in the fixture");
  return "";
}

std::string DaemonFixture::http_get(const std::string& jail) {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  REQUIRE(s);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(80);
  ::inet_pton(AF_INET, address(jail).c_str(), &sa.sin_addr);
  auto deadline = std::chrono::steady_clock::now() + 2s;
  auto left = [&] {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - std::chrono::steady_clock::now())
                  .count();
    return static_cast<int>(std::max<int64_t>(ms, 0));
  };
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
    if (errno != EINPROGRESS) return "";
    pollfd p{s.get(), POLLOUT, 0};
    if (::poll(&p, 1, left()) != 1) return "";
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return "";
  }
  std::string req = "GET / HTTP/1.0\r\nHost: " + address(jail) + "\r\n\r\n";
  if (::send(s.get(), req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
    return "";
  std::string resp;
  char buf[4096];
  for (;;) {
    pollfd p{s.get(), POLLIN, 0};
    if (::poll(&p, 1, left()) != 1) return "";
    ssize_t n = ::recv(s.get(), buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  size_t body = resp.find("\r\n\r\n");
  return body == std::string::npos ? "" : resp.substr(body + 4);
}

std::vector<nlohmann::json> DaemonFixture::events() const {
  std::vector<nlohmann::json> out;
  std::ifstream in(event_log());
  std::string line;
  while (std::getline(in, line)) {
    try {
      out.push_back(nlohmann::json::parse(line));
    } catch (const std::exception&) {
      FAIL("event log line is not JSON: " << line);
    }
  }
  return out;
}

std::vector<std::string> DaemonFixture::transitions(const std::string& jail, size_t from) const {
  std::vector<std::string> out;
  auto ev = events();
  for (size_t i = from; i < ev.size(); ++i)
    if (ev[i].value("jail", "") == jail) out.push_back(ev[i].value("to", ""));
  return out;
}

std::string DaemonFixture::daemon_log() const {
  std::ifstream in(stderr_file_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<pid_t> DaemonFixture::jail_pids(const std::string& jail) const {
  // Every process whose cgroup (any hierarchy) ends in goodcop/<jail>.
  std::vector<pid_t> out;
  std::string want = "/goodcop/" + jail;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::string n = e.path().filename();
    if (n.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cgroup");
    std::string line;
    bool hit = false;
    while (std::getline(in, line)) {
      if (line.size() >= want.size() && line.compare(line.size() - want.size(), want.size(), want) == 0)
        hit = true;
    }
    if (hit) out.push_back(static_cast<pid_t>(std::stol(n)));
  }
  return out;
}

pid_t DaemonFixture::init_pid(const std::string& jail) const {
  for (pid_t p : jail_pids(jail)) {
    std::ifstream in("/proc/" + std::to_string(p) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("NSpid:", 0) != 0) continue;
      std::istringstream ss(line.substr(6));
      std::string last, x;
      while (ss >> x) last = x;
      if (last == "1") return p;
    }
  }
  return 0;
}

}  // namespace goodcop::test
