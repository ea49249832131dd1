#pragma once
// A fake JailDriver for the supervisor's unit tests (test-only): it records the calls
// the loop makes and fails on command, so the loop's sequencing can be tested without
// kernel, integrity or backups. Its "main process" is a pipe: die() closes the write
// end, which makes exit_fd() readable as a pidfd would be.

#include <fcntl.h>
#include <unistd.h>

#include <condition_variable>
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
    if (j_->fail_evidence) throw std::runtime_error("write '/ev': No space left on device");
    return "/ev/" + inc.id + ".tar";
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
  }
  std::shared_ptr<FakeJail> j_;
};

}  // namespace goodcop::test
