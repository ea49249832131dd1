#pragma once
// A fake JailDriver for the supervisor's unit tests (test-only): it records the calls
// the loop makes and fails on command, so the loop's sequencing can be tested without
// kernel, integrity or backups. Its "main process" is a pipe: die() closes the write
// end, which makes exit_fd() readable as a pidfd would be.

#include <fcntl.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "watchdog/daemon/driver.h"

namespace goodcop::test {

// The state shared by a fake driver (on pool threads) and its test (on the loop).
struct FakeJail {
  std::mutex m;
  std::vector<std::string> calls;
  bool deviation = false;  // check() reports a deviation until restore()
  std::string fingerprint = "fp1";
  bool fail_evidence = false;  // write_evidence() throws
  int fail_starts = 0;         // this many start() calls throw (-1: all)
  bool fail_freeze = false;
  bool adopt_alive = true;
  bool hold_restore = false;  // restore() blocks until release_restore()
  bool in_restore = false;
  std::condition_variable cv;
  int pipe_w = -1;  // the "main process"
  int pipe_r = -1;
  // exec(): what it was asked to run, the exit code it returns, and a hold so a test can
  // keep an "interactive shell" open while other calls go on.
  std::vector<std::vector<std::string>> execs;
  int exec_code = 0;
  bool hold_exec = false;
  int execs_running = 0;
  int generation = 0;  // bumped when the "main process" ends: a running exec is killed
  // seal() and select_golden(): the golden versions ("1" is the first), the current one.
  int golden_versions = 1;
  int golden_current = 1;
  bool fail_seal = false;
  std::string last_incident_kind;

  std::vector<std::string> snapshot() {
    std::lock_guard<std::mutex> l(m);
    return calls;
  }
  size_t count(const std::string& call) {
    std::lock_guard<std::mutex> l(m);
    size_t n = 0;
    for (const auto& c : calls) n += c == call;
    return n;
  }
  void set_deviation(bool d) {
    std::lock_guard<std::mutex> l(m);
    deviation = d;
  }
  void release_restore() {
    {
      std::lock_guard<std::mutex> l(m);
      hold_restore = false;
    }
    cv.notify_all();
  }
  bool restoring() {
    std::lock_guard<std::mutex> l(m);
    return in_restore;
  }
  void release_exec() {
    {
      std::lock_guard<std::mutex> l(m);
      hold_exec = false;
    }
    cv.notify_all();
  }
  int running_execs() {
    std::lock_guard<std::mutex> l(m);
    return execs_running;
  }
  // The main process exits.
  void die() {
    std::lock_guard<std::mutex> l(m);
    if (pipe_w >= 0) ::close(pipe_w);
    pipe_w = -1;
  }
  ~FakeJail() {
    if (pipe_w >= 0) ::close(pipe_w);
    if (pipe_r >= 0) ::close(pipe_r);
  }
};

class FakeDriver : public supervisor::JailDriver {
 public:
  explicit FakeDriver(std::shared_ptr<FakeJail> j) : j_(std::move(j)) {}

  void start() override {
    std::lock_guard<std::mutex> l(j_->m);
    j_->calls.push_back("start");
    if (j_->fail_starts != 0) {
      if (j_->fail_starts > 0) --j_->fail_starts;
      throw std::runtime_error("exec '/sbin/init': No such file or directory");
    }
    new_process();
  }
  bool adopt() override {
    std::lock_guard<std::mutex> l(j_->m);
    j_->calls.push_back("adopt");
    if (j_->adopt_alive) new_process();
    return j_->adopt_alive;
  }
  supervisor::CheckResult check() override {
    std::lock_guard<std::mutex> l(j_->m);
    j_->calls.push_back("check");
    supervisor::CheckResult r;
    r.deviation = j_->deviation;
    if (r.deviation) {
      r.summary = "1 changed";
      r.fingerprint = j_->fingerprint;
    }
    return r;
  }
  void freeze() override {
    std::lock_guard<std::mutex> l(j_->m);
    j_->calls.push_back("freeze");
    if (j_->fail_freeze) throw std::runtime_error("cgroup.freeze: Permission denied");
  }
  void thaw() override { record("thaw"); }
  std::string write_evidence(const supervisor::Incident& inc) override {
    std::lock_guard<std::mutex> l(j_->m);
    j_->calls.push_back("evidence");
    j_->last_incident_kind = inc.kind;
    if (j_->fail_evidence) throw std::runtime_error("write '/ev': No space left on device");
    return "/ev/" + inc.id + "-" + inc.kind + ".tar";
  }
  void kill() override {
    std::lock_guard<std::mutex> l(j_->m);
    j_->calls.push_back("kill");
    end_process();
  }
  void restore() override {
    std::unique_lock<std::mutex> l(j_->m);
    j_->in_restore = true;
    j_->cv.wait(l, [this] { return !j_->hold_restore; });
    j_->calls.push_back("restore");
    j_->deviation = false;
  }
  void stop() override {
    std::lock_guard<std::mutex> l(j_->m);
    j_->calls.push_back("stop");
    end_process();
  }
  int exit_fd() override {
    std::lock_guard<std::mutex> l(j_->m);
    return j_->pipe_r;
  }
  std::string address() const override { return "198.18.0.2"; }

  // Like jexec: writes "ran ARGV0" to the given stdout, then waits while held; the exit
  // code is exec_code, or 127 for a command named "missing". Not recorded in `calls`
  // (it overlaps them by design) but in `execs`; never holds the mutex while it waits.
  int exec(const std::vector<std::string>& argv, const supervisor::ExecIo& io) override {
    std::unique_lock<std::mutex> l(j_->m);
    if (j_->pipe_r < 0) throw std::runtime_error("jail is not running");
    j_->execs.push_back(argv);
    ++j_->execs_running;
    std::string line = "ran " + argv.at(0) + "\n";
    if (io.fds[1] >= 0 && ::write(io.fds[1], line.data(), line.size()) < 0)
      throw std::runtime_error("write stdout failed");
    int gen = j_->generation;
    j_->cv.wait(l, [this, gen] { return !j_->hold_exec || j_->generation != gen; });
    --j_->execs_running;
    if (j_->generation != gen) return 128 + 9;  // killed with the jail
    return argv.at(0) == "missing" ? 127 : j_->exec_code;
  }
  std::string seal() override {
    std::lock_guard<std::mutex> l(j_->m);
    j_->calls.push_back("seal");
    if (j_->fail_seal) throw std::runtime_error("write '/golden/2.tar.zst': Disk quota exceeded");
    j_->golden_current = ++j_->golden_versions;
    j_->deviation = false;  // the current tree is golden now
    return "golden version " + std::to_string(j_->golden_current) + " sealed";
  }
  std::string select_golden(const std::string& version) override {
    std::lock_guard<std::mutex> l(j_->m);
    j_->calls.push_back("select " + (version.empty() ? std::string("previous") : version));
    int v = version.empty() ? j_->golden_current - 1 : std::atoi(version.c_str());
    if (v < 1 || v > j_->golden_versions)
      throw std::runtime_error("no golden version '" +
                               (version.empty() ? std::to_string(v) : version) + "'");
    j_->golden_current = v;
    return "golden version " + std::to_string(v) + " is current";
  }

 private:
  void record(const char* c) {
    std::lock_guard<std::mutex> l(j_->m);
    j_->calls.push_back(c);
  }
  void new_process() {
    end_process();
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) throw std::runtime_error("pipe2 failed");
    j_->pipe_r = p[0];
    j_->pipe_w = p[1];
  }
  void end_process() {
    if (j_->pipe_w >= 0) ::close(j_->pipe_w);
    if (j_->pipe_r >= 0) ::close(j_->pipe_r);
    j_->pipe_w = j_->pipe_r = -1;
    ++j_->generation;
    j_->cv.notify_all();
  }
  std::shared_ptr<FakeJail> j_;
};

}  // namespace goodcop::test
