// The backups verbs of the goodcop binary: seal, restore (offline and daemon forms),
// evidence.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "backups/evidence.h"
#include "backups/seal.h"
#include "base/fd.h"
#include "tests/support/support.h"
#include "tests/unit/backups/helpers.h"

namespace bk = goodcop::backups;
using goodcop::test::run_goodcop;
using goodcop::test::TempDir;
using goodcop::test::write_text;

namespace {

// True when `goodcop VERB --help` shows this layer's verb (marked by one of its options).
bool wired(const std::string& verb, const std::string& mark) {
  auto r = run_goodcop({verb, "--help"});
  if (r.status == 0 && r.out.find(mark) != std::string::npos) return true;
  WARN("skipped: 'goodcop " << verb << "' is not wired into watchdog/cli.cc yet");
  return false;
}

// A one-shot stand-in for the daemon's control socket: answers one request with `reply`.
class FakeDaemon {
 public:
  FakeDaemon(const std::string& path, std::string reply) : path_(path) {
    fd_ = goodcop::UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd_.get() >= 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof a.sun_path);
    std::memcpy(a.sun_path, path.data(), path.size());
    REQUIRE(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_.get(), 4) == 0);
    thread_ = std::thread([this, reply] {
      goodcop::UniqueFd c(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c) return;  // shut down unused
      char buf[4096];
      for (;;) {
        ssize_t n = ::read(c.get(), buf, sizeof buf);
        if (n <= 0) break;
        request_.append(buf, static_cast<size_t>(n));
        if (request_.find('\n') != std::string::npos) break;
      }
      (void)!::write(c.get(), reply.data(), reply.size());
    });
  }
  ~FakeDaemon() {
    ::shutdown(fd_.get(), SHUT_RDWR);  // wakes accept() when nobody came
    if (thread_.joinable()) thread_.join();
    ::unlink(path_.c_str());
  }
  // The request line, once the client is done.
  std::string request() {
    ::shutdown(fd_.get(), SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    return request_;
  }

 private:
  std::string path_;
  goodcop::UniqueFd fd_;
  std::string request_;
  std::thread thread_;
};

}  // namespace

TEST_CASE("cli: seal, restore --check, restore", "[backups][cli]") {
  if (!wired("seal", "--golden") || !wired("restore", "--keep")) return;
  TempDir t;
  std::string src = t / "src", arc = t / "g.tar.zst", jail = t / "jail";
  REQUIRE(::mkdir(src.c_str(), 0755) == 0);
  write_text(src + "/index.html", "hello\n");
  auto s = run_goodcop({"seal", src, "-o", arc});
  CHECK(s.status == 0);
  std::string digest = bk::read_recorded_digest(arc);
  struct stat st {};
  REQUIRE(::stat(arc.c_str(), &st) == 0);
  CHECK(s.out == "sealed '" + src + "' into '" + arc + "': 2 entries, " +
                     std::to_string(st.st_size) + " bytes, sha256 " + digest + "\n");
  auto c = run_goodcop({"restore", "--check", arc});
  CHECK(c.status == 0);
  CHECK(c.out == "ok: '" + arc + "': sha256 " + digest + ", 2 entries match the manifest\n");
  auto r = run_goodcop({"restore", arc, jail});
  CHECK(r.status == 0);
  CHECK(r.out == "restored '" + jail + "' from '" + arc + "': 2 entries, sha256 " + digest +
                     " (new tree)\n");
  CHECK(goodcop::read_file(jail + "/index.html") == "hello\n");

  goodcop::test::flip_byte(arc, 40);
  auto bad = run_goodcop({"restore", "--check", arc});
  CHECK(bad.status == 1);
  CHECK(bad.err.find("damaged or swapped, refused") != std::string::npos);
  auto refused = run_goodcop({"restore", arc, jail});
  CHECK(refused.status == 3);
  CHECK(goodcop::read_file(jail + "/index.html") == "hello\n");
  // A path is never taken for a jail name: without -o/--golden it is a usage error.
  auto usage = run_goodcop({"seal", src});
  CHECK(usage.status == 2);
  CHECK(usage.err ==
        "goodcop: seal: '" + src +
            "' is not a jail name: seal a directory with -o ARCHIVE or --golden GOLDEN\n");
}

TEST_CASE("cli: seal JAIL and restore JAIL go to the daemon", "[backups][cli]") {
  TempDir t;
  std::string sock = t / "control.sock";
  for (const char* verb : {"seal", "restore"}) {
    auto r = run_goodcop({verb, "web1", "--socket", sock});
    CHECK(r.status == 3);
    CHECK(r.err == std::string("goodcop: ") + verb + ": control socket '" + sock +
                       "': connect: No such file or directory (is the daemon running?)\n");
    CHECK(r.out.empty());
  }
  // A stand-in daemon: the request it gets is the daemon verb, with the jail.
  for (const char* verb : {"seal", "restore"}) {
    FakeDaemon d(sock, "{\"ok\":true,\"state\":\"starting\"}\n");
    auto r = run_goodcop({verb, "web1", "--socket", sock});
    CHECK(r.status == 0);
    CHECK(r.out.rfind("web1: ", 0) == 0);  // the daemon's answer, as cmd_control.cc prints it
    CHECK(r.err.empty());
    auto req = nlohmann::json::parse(d.request());
    CHECK(req["verb"] == verb);
    CHECK(req["jail"] == "web1");
  }
  {
    FakeDaemon d(sock, "{\"ok\":false,\"exit\":2,\"error\":\"unknown jail 'web9'\"}\n");
    auto r = run_goodcop({"restore", "web9", "--socket", sock});
    CHECK(r.status == 2);
    CHECK(r.err == "goodcop: restore: unknown jail 'web9'\n");
  }
}

TEST_CASE("cli: seal and restore forms are never ambiguous", "[backups][cli]") {
  TempDir t;
  std::string src = t / "src", arc = t / "g.tar.zst";
  REQUIRE(::mkdir(src.c_str(), 0755) == 0);
  auto r1 = run_goodcop({"restore", "g.tar.zst"});
  CHECK(r1.status == 2);
  CHECK(r1.err ==
        "goodcop: restore: 'g.tar.zst' is not a jail name: restore a directory with ARCHIVE DIR\n");
  auto r2 = run_goodcop({"restore", "web1", "--keep", "data"});
  CHECK(r2.status == 2);
  CHECK(r2.err == "goodcop: restore: --keep needs DIR (restore ARCHIVE DIR)\n");
  auto r3 = run_goodcop({"restore", arc, t / "jail", "--socket", t / "s"});
  CHECK(r3.status == 2);
  CHECK(r3.err == "goodcop: restore: --socket applies to the JAIL form only\n");
  auto r4 = run_goodcop({"seal", src, "-o", arc, "--socket", t / "s"});
  CHECK(r4.status == 2);
  CHECK(r4.err.find("excludes") != std::string::npos);
  auto r5 = run_goodcop({"seal", "web1", "--compression", "gzip"});
  CHECK(r5.status == 2);
  CHECK(r5.err ==
        "goodcop: seal: --compression applies to DIR -o ARCHIVE or DIR --golden GOLDEN\n");
  CHECK(::access(arc.c_str(), F_OK) != 0);
  // --help tells both forms.
  auto hs = run_goodcop({"seal", "--help"});
  CHECK(hs.status == 0);
  CHECK(hs.out.find("goodcop seal DIR -o ARCHIVE") != std::string::npos);
  CHECK(hs.out.find("goodcop seal JAIL [--socket PATH]") != std::string::npos);
  auto hr = run_goodcop({"restore", "--help"});
  CHECK(hr.status == 0);
  CHECK(hr.out.find("goodcop restore ARCHIVE DIR") != std::string::npos);
  CHECK(hr.out.find("goodcop restore JAIL [--socket PATH]") != std::string::npos);
}

TEST_CASE("cli: evidence list, show, verify, export", "[backups][cli]") {
  if (!wired("evidence", "export")) return;
  TempDir t;
  std::string tree = t / "jail", dir = t / "ev";
  REQUIRE(::mkdir(tree.c_str(), 0755) == 0);
  write_text(tree + "/x.php", "<?php\n");
  bk::Incident in;
  in.jail = "web1";
  in.trigger = "tamper";
  in.detected_at = std::chrono::system_clock::now();
  in.collector = "test";
  in.tree_root = tree;
  in.paths = {"x.php"};
  bk::EvidenceOptions o;
  o.dir = dir;
  bk::BundleInfo b = bk::write_bundle(in, o);

  auto l = run_goodcop({"evidence", "list", "web1", "--dir", dir});
  CHECK(l.status == 0);
  CHECK(l.out.find(b.path) != std::string::npos);
  auto s = run_goodcop({"evidence", "show", b.path});
  CHECK(s.status == 0);
  CHECK(s.out.find("\"jail\": \"web1\"") != std::string::npos);
  auto v = run_goodcop({"evidence", "verify", b.path});
  CHECK(v.status == 0);
  CHECK(v.out.substr(v.out.size() - b.path.size() - 13) == "verified: '" + b.path + "'\n");
  auto e = run_goodcop({"evidence", "export", b.path, t / "out"});
  CHECK(e.status == 0);
  CHECK(goodcop::read_file(t / "out/files/x.php") == "<?php\n");

  goodcop::test::flip_byte(b.path, 600);
  auto bad = run_goodcop({"evidence", "verify", b.path});
  CHECK(bad.status == 1);
  CHECK(bad.err.find("goodcop: evidence verify: '" + b.path + "': ") == 0);
  CHECK(bad.out.find("mismatch: ") != std::string::npos);
}

TEST_CASE("cli: seal --ignore leaves paths out of the manifest and the archive", "[backups][cli]") {
  TempDir t;
  std::string src = t / "src", arc = t / "g.tar", jail = t / "jail";
  for (const char* d : {"", "/www", "/cache"}) REQUIRE(::mkdir((src + d).c_str(), 0755) == 0);
  write_text(src + "/www/index.php", "<?php\n");
  write_text(src + "/www/index.pyc", "bytecode");
  write_text(src + "/cache/blob", "cache");
  auto s = run_goodcop({"seal", src, "-o", arc, "--compression", "none", "--ignore", "cache/**",
                        "--ignore", "**/*.pyc"});
  CHECK(s.status == 0);
  CHECK(s.err.empty());
  // bsdtar, not our reader, lists what is inside.
  auto l = goodcop::test::run({"/usr/bin/bsdtar", "-tf", arc});
  CHECK(l.status == 0);
  CHECK(l.out == ".goodcop/MANIFEST\n./\ncache/\nwww/\nwww/index.php\n");
  std::string manifest = bk::read_manifest_member(arc);
  CHECK(manifest.find("blob") == std::string::npos);
  CHECK(manifest.find("index.pyc") == std::string::npos);
  auto r = run_goodcop({"restore", arc, jail});
  CHECK(r.status == 0);
  CHECK(::access((jail + "/www/index.php").c_str(), F_OK) == 0);
  CHECK(::access((jail + "/cache/blob").c_str(), F_OK) != 0);

  auto bad = run_goodcop({"seal", src, "-o", t / "bad.tar", "--ignore", "[abc"});
  CHECK(bad.status == 2);
  CHECK(bad.err == "goodcop: seal: --ignore: ignore glob '[abc': unclosed '['\n");
  CHECK(::access((t / "bad.tar").c_str(), F_OK) != 0);
  auto daemon_form = run_goodcop({"seal", "web1", "--ignore", "cache/**"});
  CHECK(daemon_form.status == 2);
  CHECK(daemon_form.err ==
        "goodcop: seal: --ignore applies to DIR -o ARCHIVE or DIR --golden GOLDEN\n");
}
