// cg_control.cc: freezing, thawing, killing everything in a jail's cgroups, and statistics.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include "base/error.h"
#include "base/fd.h"
#include "base/parse.h"
#include "kernel/cg_util.h"
#include "kernel/cgroup.h"

namespace goodcop {
namespace {

using Clock = std::chrono::steady_clock;

// Waits until `key` in DIR/cgroup.events has `want`. cgroupfs (kernfs) signals every change of
// cgroup.events as POLLPRI|POLLERR on an open fd (cgroup-v2.rst "populated"/"frozen"), so this
// sleeps in poll(2) rather than polling; the file is re-read from offset 0 after each wake-up.
bool wait_events(const std::string& dir, const char* key, uint64_t want, Clock::time_point until) {
  const std::string path = dir + "/cgroup.events";
  UniqueFd fd = open_fd(path, O_RDONLY);
  for (;;) {
    check(::lseek(fd.get(), 0, SEEK_SET), "lseek", path);
    char buf[256];
    ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
    if (n < 0 && errno == EINTR) continue;
    check(n, "read", path);
    auto v = cg::keyed(std::string(buf, static_cast<size_t>(n)), key);
    if (v && *v == want) return true;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd.get(), POLLPRI, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000))) < 0 &&
        errno != EINTR)
      throw SysError("poll", path, errno);
  }
}

// The v1 freezer has no change notification: re-read freezer.state with a short back-off
// (FREEZING -> FROZEN normally takes well under a millisecond).
bool wait_v1_state(const std::string& dir, const std::string& want, Clock::time_point until) {
  auto pause = std::chrono::microseconds(200);
  for (;;) {
    if (cg::read_trimmed(dir + "/freezer.state") == want) return true;
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
  }
}

std::string ms_text(std::chrono::milliseconds d) { return format_duration(d); }

}  // namespace

void JailCgroup::freeze(std::chrono::milliseconds timeout) const {
  const auto until = Clock::now() + timeout;
  if (v2_freeze_) {
    cg::write_ctl(v2_dir_ + "/cgroup.freeze", "1");
    if (!wait_events(v2_dir_, "frozen", 1, until))
      throw Error("cgroup '" + name_ + "': not frozen after " + ms_text(timeout));
  } else if (const Dir* d = find("freezer")) {
    cg::write_ctl(d->path + "/freezer.state", "FROZEN");
    if (!wait_v1_state(d->path, "FROZEN", until))
      throw Error("cgroup '" + name_ + "': not frozen after " + ms_text(timeout));
  } else {
    throw Error("cgroup '" + name_ + "': no freezer");
  }
}

void JailCgroup::thaw(std::chrono::milliseconds timeout) const {
  const auto until = Clock::now() + timeout;
  if (v2_freeze_) {
    cg::write_ctl(v2_dir_ + "/cgroup.freeze", "0");
    if (!wait_events(v2_dir_, "frozen", 0, until))
      throw Error("cgroup '" + name_ + "': still frozen after " + ms_text(timeout));
  } else if (const Dir* d = find("freezer")) {
    cg::write_ctl(d->path + "/freezer.state", "THAWED");
    if (!wait_v1_state(d->path, "THAWED", until))
      throw Error("cgroup '" + name_ + "': still frozen after " + ms_text(timeout));
  } else {
    throw Error("cgroup '" + name_ + "': no freezer");
  }
}

bool JailCgroup::frozen() const {
  if (v2_freeze_)
    return cg::keyed(read_file(v2_dir_ + "/cgroup.events", 4096), "frozen").value_or(0) == 1;
  if (const Dir* d = find("freezer"))
    return cg::read_trimmed(d->path + "/freezer.state") == "FROZEN";
  return false;
}

std::vector<pid_t> JailCgroup::pids() const {
  std::vector<pid_t> out;
  for (auto& d : dirs_) cg::collect_pids(d.path, out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void JailCgroup::kill_all(std::chrono::milliseconds timeout) const {
  if (dirs_.empty()) return;
  const auto until = Clock::now() + timeout;
  if (v2_kill_) {
    // cgroup.kill (5.14+) kills the whole subtree atomically, even processes forking right now.
    cg::write_ctl(v2_dir_ + "/cgroup.kill", "1");
    wait_events(v2_dir_, "populated", 0, until);
  }
  // Without cgroup.kill (or for a process someone moved out of the v2 group only): freeze so
  // nothing can fork between reading cgroup.procs and the kills, SIGKILL each pid, thaw (a v1
  // frozen task only dies once thawed), and repeat until the cgroups are empty.
  auto pause = std::chrono::microseconds(200);
  for (;;) {
    std::vector<pid_t> left = pids();
    if (left.empty()) return;
    if (Clock::now() > until)
      throw Error("cgroup '" + name_ + "': " + std::to_string(left.size()) +
                  " process(es) still alive after kill");
    bool froze = false;
    try {
      freeze(std::chrono::milliseconds(500));
      froze = true;
    } catch (const Error&) {
      // No freezer or a task stuck in the kernel: kill anyway, the loop repeats.
    }
    for (pid_t p : pids())
      if (::kill(p, SIGKILL) < 0 && errno != ESRCH)
        throw SysError("kill", std::to_string(p), errno);
    if (froze) thaw(std::chrono::milliseconds(2000));
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
  }
}

CgroupStats JailCgroup::stats() const {
  CgroupStats s;
  auto num = [](const std::string& path) -> std::optional<uint64_t> {
    auto v = parse_uint(cg::read_trimmed(path));
    if (!v) throw Error("cgroup file '" + path + "': unexpected content");
    return v.value;
  };
  auto exists = [](const std::string& path) { return ::access(path.c_str(), F_OK) == 0; };
  if (const Dir* d = find("memory")) {
    const std::string& p = d->path;
    if (d->controllers.empty()) {
      s.memory_current = num(p + "/memory.current");
      if (exists(p + "/memory.peak")) s.memory_peak = num(p + "/memory.peak");
      s.memory_max = cg::read_limit(p + "/memory.max");
      s.oom_kills = cg::keyed(read_file(p + "/memory.events", 1u << 16), "oom_kill");
    } else {
      s.memory_current = num(p + "/memory.usage_in_bytes");
      s.memory_peak = num(p + "/memory.max_usage_in_bytes");
      s.memory_max = cg::read_limit(p + "/memory.limit_in_bytes");
      s.oom_kills = cg::keyed(read_file(p + "/memory.oom_control", 1u << 16), "oom_kill");
    }
  }
  if (const Dir* d = find("pids")) {
    s.pids_current = num(d->path + "/pids.current");
    s.pids_max = cg::read_limit(d->path + "/pids.max");
  }
  if (!v2_dir_.empty() && exists(v2_dir_ + "/cpu.stat")) {
    // cpu.stat's usage_usec is a core v2 file, present even without the cpu controller.
    if (auto us = cg::keyed(read_file(v2_dir_ + "/cpu.stat", 1u << 16), "usage_usec"))
      s.cpu_usage_ns = *us * 1000;
  } else if (const Dir* c = find("cpuacct")) {
    s.cpu_usage_ns = num(c->path + "/cpuacct.usage");
  }
  return s;
}

}  // namespace goodcop
