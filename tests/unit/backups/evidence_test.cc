// Evidence bundles: what goes in, how it is named, the chained log, retention,
// failures reported to the caller, and verification that catches one flipped byte
// in any part.
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "backups/archive.h"
#include "backups/evidence.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/scope_exit.h"
#include "tests/support/support.h"
#include "tests/unit/backups/helpers.h"

namespace bk = goodcop::backups;
using goodcop::test::TempDir;
using goodcop::test::write_text;

namespace {

// Writes a fresh Ed25519 key pair as PEM files.
void make_keys(const std::string& priv, const std::string& pub) {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  REQUIRE(k != nullptr);
  FILE* f = std::fopen(priv.c_str(), "w");
  REQUIRE(f != nullptr);
  REQUIRE(PEM_write_PrivateKey(f, k, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  std::fclose(f);
  f = std::fopen(pub.c_str(), "w");
  REQUIRE(f != nullptr);
  REQUIRE(PEM_write_PUBKEY(f, k) == 1);
  std::fclose(f);
  EVP_PKEY_free(k);
}

// A tampered jail tree and the incident around it.
struct Scene {
  TempDir t;
  std::string tree = t / "jail", dir = t / "evidence", key = t / "key.pem", pub = t / "pub.pem";
  bk::Incident in;
  bk::EvidenceOptions opts;
  Scene() {
    REQUIRE(::mkdir(tree.c_str(), 0755) == 0);
    REQUIRE(::mkdir((tree + "/srv").c_str(), 0755) == 0);
    write_text(tree + "/srv/shell.php", "<?php system($_GET['EVIDENCE-MARKER']);\n", 04755);
    REQUIRE(::symlink("/etc/shadow", (tree + "/srv/link").c_str()) == 0);
    REQUIRE(::mkfifo((tree + "/srv/fifo").c_str(), 0600) == 0);
    make_keys(key, pub);
    in.jail = "web1";
    in.trigger = "tamper";
    in.detected_at = std::chrono::system_clock::now();
    in.policy_digest = std::string(64, 'a');
    in.golden_digest = std::string(64, 'b');
    in.manifest_digest = std::string(64, 'c');
    in.collector = "goodcop test";
    in.diff_json = R"({"format":"goodcop-diff","version":1,"changes":[]})";
    in.tree_root = tree;
    in.paths = {"srv/shell.php", "srv/link", "srv/fifo", "srv/absent", "../outside"};
    in.volatile_state = {{"processes.json", "[{\"pid\":1}]"}, {"output.log", "hello\n"}};
    opts.dir = dir;
    opts.signing_key = key;
  }
};

bool has(const bk::BundleReport& r, const std::string& problem) {
  for (const auto& p : r.problems)
    if (p == problem) return true;
  return false;
}

// Flips the byte `at` characters after the first occurrence of `needle` in the file.
void flip_at(const std::string& path, const std::string& needle, size_t at = 0) {
  std::string data = goodcop::read_file(path);
  size_t pos = data.find(needle);
  REQUIRE(pos != std::string::npos);
  goodcop::test::flip_byte(path, static_cast<long>(pos + at));
}

}  // namespace

TEST_CASE("evidence: a bundle holds custody, diff, files as found, volatile state", "[backups][evidence]") {
  Scene s;
  bk::BundleInfo b = bk::write_bundle(s.in, s.opts);
  bk::BundleRef ref;
  REQUIRE(bk::parse_bundle_name(goodcop::test::list_dir(s.dir).at(0), &ref));
  CHECK(b.path == s.dir + "/" + ref.name);
  CHECK(ref.jail == "web1");
  CHECK(ref.trigger == "tamper");
  CHECK(goodcop::test::list_dir(s.dir) == std::vector<std::string>{ref.name, "web1.evidence.log"});
  CHECK(b.sha256 == bk::sha256_file(b.path));

  bk::BundleReport r = bk::verify_bundle(b.path);
  CAPTURE(r.problems);
  CHECK(r.ok());
  std::vector<std::string> names;
  for (const auto& [n, size] : r.members) names.push_back(n);
  CHECK(names == std::vector<std::string>{"custody.json", "diff.json", "files.json", "files/srv/link",
                                          "files/srv/shell.php", "volatile/processes.json",
                                          "volatile/output.log", "SHA256SUMS", "SIGNATURE"});
  auto custody = nlohmann::json::parse(r.custody_json);
  CHECK(custody["jail"] == "web1");
  CHECK(custody["trigger"] == "tamper");
  CHECK(custody["golden_digest"] == std::string(64, 'b'));
  CHECK(custody["collector"] == "goodcop test");
  CHECK(custody["signature"]["algorithm"] == "ed25519");

  // The files as found: a setuid shell with its mode, a symlink not followed, the
  // fifo and the absent path described in files.json only, nothing from outside.
  std::string out = s.t / "export";
  bk::export_bundle(b.path, out);
  CHECK(goodcop::read_file(out + "/files/srv/shell.php") == "<?php system($_GET['EVIDENCE-MARKER']);\n");
  struct stat st {};
  REQUIRE(::lstat((out + "/files/srv/shell.php").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0644);  // exported as data, never setuid
  REQUIRE(::lstat((out + "/files/srv/link").c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));
  auto files = nlohmann::json::parse(goodcop::read_file(out + "/files.json"));
  REQUIRE(files.size() == 4);
  CHECK(files[0]["path"] == "srv/absent");
  CHECK(files[0]["note"] == "absent");
  CHECK(files[1]["path"] == "srv/fifo");
  CHECK(files[1]["type"] == "p");
  CHECK(files[2]["link"] == "/etc/shadow");
  CHECK(files[3]["mode"] == 04755);
  CHECK(files[3]["sha256"] == bk::sha256_hex("<?php system($_GET['EVIDENCE-MARKER']);\n"));
  CHECK(goodcop::read_file(out + "/volatile/output.log") == "hello\n");
}

TEST_CASE("evidence: verify catches one flipped byte in any part", "[backups][evidence]") {
  Scene s;
  bk::write_bundle(s.in, s.opts);
  bk::BundleInfo b = bk::write_bundle(s.in, s.opts);
  REQUIRE(bk::verify_bundle(b.path).ok());
  bk::VerifyBundleOptions vo;
  std::string problem;
  SECTION("member content") {
    flip_at(b.path, "EVIDENCE-MARKER");
    problem = "member 'files/srv/shell.php': sha256 mismatch";
  }
  SECTION("SHA256SUMS") {
    std::string sum = bk::sha256_hex("hello\n");
    flip_at(b.path, sum + "  volatile/output.log");
    problem = "member 'volatile/output.log': sha256 mismatch";
  }
  SECTION("custody record") {
    flip_at(b.path, "\"trigger\": \"tamper\"", 13);
    problem = "member 'custody.json': sha256 mismatch";
  }
  SECTION("signature") {
    std::string data = goodcop::read_file(b.path);
    size_t sums = data.rfind("SHA256SUMS");
    REQUIRE(sums != std::string::npos);
    // The signature member's data is the last 128 hex digits before the tar padding.
    size_t nl = data.find('\n', data.rfind("SIGNATURE") + 600);
    REQUIRE(nl != std::string::npos);
    goodcop::test::flip_byte(b.path, static_cast<long>(nl - 5));
    problem = "signature: invalid";
  }
  SECTION("the log chain") {
    flip_at(s.dir + "/web1.evidence.log", "v1 1 ", 10);
    problem = "evidence log: chain broken at line 2 (previous line's hash differs)";
  }
  SECTION("the logged digest") {
    // Rewriting the bundle consistently (sums, signature) still breaks the log.
    bk::EvidenceOptions other = s.opts;
    other.dir = s.t / "other";
    bk::BundleInfo forged = bk::write_bundle(s.in, other);
    REQUIRE(::rename(forged.path.c_str(), b.path.c_str()) == 0);
    problem = "evidence log: the bundle's sha256 differs from the one logged";
  }
  SECTION("the signer") {
    make_keys(s.t / "other.pem", s.t / "other.pub");
    vo.public_key = goodcop::read_file(s.t / "other.pub");
    problem = "signature: invalid";
  }
  bk::BundleReport r = bk::verify_bundle(b.path, vo);
  CAPTURE(r.problems);
  CHECK_FALSE(r.ok());
  CHECK(has(r, problem));
}

TEST_CASE("evidence: a signature checks against the operator's public key", "[backups][evidence]") {
  Scene s;
  bk::BundleInfo b = bk::write_bundle(s.in, s.opts);
  bk::VerifyBundleOptions vo;
  vo.public_key = goodcop::read_file(s.pub);
  bk::BundleReport r = bk::verify_bundle(b.path, vo);
  CHECK(r.ok());
  bool noted = false;
  for (const auto& n : r.notes) noted |= n.rfind("signature: valid (ed25519, key sha256 ", 0) == 0;
  CHECK(noted);
}

TEST_CASE("evidence: retention keeps the newest N, the log keeps every digest", "[backups][evidence]") {
  Scene s;
  s.opts.keep = 2;
  s.opts.signing_key.clear();
  std::vector<bk::BundleInfo> written;
  for (int i = 0; i < 4; ++i) written.push_back(bk::write_bundle(s.in, s.opts));
  auto left = bk::list_bundles(s.dir, "web1");
  REQUIRE(left.size() == 2);
  CHECK(left[0].path == written[2].path);
  CHECK(left[1].path == written[3].path);
  CHECK(written[3].removed == std::vector<std::string>{written[1].path});
  CHECK(bk::check_evidence_log(bk::evidence_log_path(s.dir, "web1")).empty());
  std::string log = goodcop::read_file(bk::evidence_log_path(s.dir, "web1"));
  CHECK(std::count(log.begin(), log.end(), '\n') == 4);
  CHECK(bk::verify_bundle(written[3].path).ok());
  // Bundles of another jail are not counted against web1's retention.
  s.in.jail = "db1";
  bk::write_bundle(s.in, s.opts);
  CHECK(bk::list_bundles(s.dir, "web1").size() == 2);
  CHECK(bk::list_bundles(s.dir).size() == 3);
}

TEST_CASE("evidence: a bundle that cannot be written is an error, not a silent loss", "[backups][evidence]") {
  Scene s;
  write_text(s.t / "not-a-dir", "");
  s.opts.dir = s.t / "not-a-dir";
  CHECK_THROWS_WITH(bk::write_bundle(s.in, s.opts),
                    "evidence for jail 'web1': open '" + s.t / "not-a-dir" + "': Not a directory");
  s.opts.dir = s.dir;
  s.in.jail = "../etc";
  CHECK_THROWS_WITH(bk::write_bundle(s.in, s.opts), "evidence for jail '../etc': invalid jail name '../etc'");
}

TEST_CASE("evidence: a full filesystem makes the write fail and leaves nothing", "[backups][evidence][root]") {
  GOODCOP_REQUIRE_ROOT();
  goodcop::test::TmpfsMount m("64k");
  Scene s;
  write_text(s.tree + "/srv/big", std::string(1 << 20, 'x'));
  s.in.paths.push_back("srv/big");
  s.opts.dir = m.path() + "/evidence";
  CHECK_THROWS_WITH(bk::write_bundle(s.in, s.opts), Catch::Contains("No space left on device"));
  CHECK(goodcop::test::list_dir(s.opts.dir).empty());
}

TEST_CASE("evidence: a writer killed in the middle of a bundle leaves nothing behind",
          "[backups][evidence]") {
  // The daemon SIGKILLed while it writes: here the kernel kills the writer itself, with
  // SIGXFSZ at the file size limit, halfway through a bundle.
  Scene s;
  REQUIRE(::mkdir(s.dir.c_str(), 0700) == 0);
  write_text(s.tree + "/srv/big", std::string(1 << 20, 'x'));
  s.in.paths.push_back("srv/big");
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    struct rlimit lim {256 << 10, 256 << 10};
    ::setrlimit(RLIMIT_FSIZE, &lim);
    try {
      bk::write_bundle(s.in, s.opts);
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  int st = 0;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  REQUIRE(WIFSIGNALED(st));
  CHECK(WTERMSIG(st) == SIGXFSZ);
  CHECK(goodcop::test::list_dir(s.dir).empty());
  // The next bundle is written as usual.
  bk::BundleInfo b = bk::write_bundle(s.in, s.opts);
  CHECK(goodcop::test::list_dir(s.dir).size() == 2);  // the bundle and the evidence log
  CHECK(bk::verify_bundle(b.path).ok());
}

TEST_CASE("evidence: files are read with caps and without following links", "[backups][evidence][hostile]") {
  Scene s;
  write_text(s.tree + "/srv/big", std::string(10000, 'x'));
  REQUIRE(::symlink("/etc", (s.tree + "/etc").c_str()) == 0);
  s.in.paths = {"srv/big", "etc/passwd"};
  s.opts.max_file_bytes = 4096;
  bk::BundleInfo b = bk::write_bundle(s.in, s.opts);
  std::string out = s.t / "export";
  bk::export_bundle(b.path, out);
  CHECK(goodcop::read_file(out + "/files/srv/big") == std::string(4096, 'x'));
  auto files = nlohmann::json::parse(goodcop::read_file(out + "/files.json"));
  REQUIRE(files.size() == 2);
  CHECK(files[0]["path"] == "etc/passwd");
  CHECK(files[0]["note"].get<std::string>().rfind("not collected: openat2 'etc'", 0) == 0);
  CHECK(files[1]["truncated"] == true);
  CHECK(files[1]["size"] == 10000);
  CHECK(::access((out + "/files/etc").c_str(), F_OK) != 0);
}

TEST_CASE("evidence: whole-tree mode takes an overlay upper as it is", "[backups][evidence]") {
  Scene s;
  s.in.paths.clear();
  s.in.whole_tree = true;
  s.opts.compression = bk::Compression::kZstd;
  bk::BundleInfo b = bk::write_bundle(s.in, s.opts);
  CHECK(b.path.substr(b.path.size() - 8) == ".tar.zst");
  bk::BundleReport r = bk::verify_bundle(b.path);
  CAPTURE(r.problems);
  CHECK(r.ok());
  std::vector<std::string> names;
  for (const auto& [n, size] : r.members) names.push_back(n);
  CHECK(std::find(names.begin(), names.end(), "files/srv/shell.php") != names.end());
  CHECK(std::find(names.begin(), names.end(), "files") != names.end());
}

TEST_CASE("evidence: volatile state of a jail's processes from /proc", "[backups][evidence][root]") {
  GOODCOP_REQUIRE_ROOT();
  // A one-process "jail": pid 1 of a fresh pid namespace running sleep.
  int ready[2];
  REQUIRE(::pipe2(ready, O_CLOEXEC) == 0);
  pid_t outer = ::fork();
  REQUIRE(outer >= 0);
  if (outer == 0) {
    if (::unshare(CLONE_NEWPID) < 0) ::_exit(1);
    pid_t inner = ::fork();
    if (inner == 0) {
      ::execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    std::string s = std::to_string(inner);
    if (::write(ready[1], s.data(), s.size()) < 0) ::_exit(1);
    ::_exit(0);
  }
  ::close(ready[1]);
  char buf[32] = {};
  ssize_t n = ::read(ready[0], buf, sizeof buf - 1);
  ::close(ready[0]);
  int st = 0;
  ::waitpid(outer, &st, 0);
  REQUIRE(n > 0);
  pid_t jail_init = static_cast<pid_t>(std::stol(buf));
  goodcop::ScopeExit kill_it([&] { ::kill(jail_init, SIGKILL); });
  // Wait until the exec is complete: the exe link names sleep a moment before the new
  // argument list is readable in /proc/PID/cmdline (seen empty once under CI load).
  for (int i = 0; i < 2000; ++i) {
    char l[256] = {};
    std::ifstream cl("/proc/" + std::to_string(jail_init) + "/cmdline");
    std::string args((std::istreambuf_iterator<char>(cl)), {});
    if (::readlink(("/proc/" + std::to_string(jail_init) + "/exe").c_str(), l, sizeof l - 1) > 0 &&
        std::string(l).find("sleep") != std::string::npos && args.find("sleep") != std::string::npos)
      break;
    ::usleep(1000);
  }
  auto blobs = bk::collect_volatile(jail_init);
  REQUIRE(blobs.size() == 5);
  CHECK(blobs[0].name == "processes.json");
  auto procs = nlohmann::json::parse(blobs[0].data);
  REQUIRE(procs.size() == 1);
  CHECK(procs[0]["pid"] == jail_init);
  CHECK(procs[0]["cmdline"] == nlohmann::json::array({"sleep", "30"}));
  CHECK(procs[0]["nspid"].back() == 1);
  std::string exe = procs[0]["exe"];
  CHECK(procs[0]["exe_sha256"] == bk::sha256_file(exe));
  CHECK(blobs[3].name == "mountinfo.txt");
  CHECK_FALSE(blobs[3].data.empty());
  CHECK(blobs[2].data.find("== tcp ==") == 0);
}
