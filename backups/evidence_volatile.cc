// Volatile state of a frozen jail, read from /proc (CRIU does not work on this
// kernel; DESIGN.md). Every read is capped: the jail controls what is in there.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>
#include <sstream>

#include "backups/archive.h"
#include "backups/evidence.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/parse.h"
#include "base/scope_exit.h"

namespace goodcop::backups {
namespace {

constexpr size_t kMaxProcFile = 4u << 20;
constexpr uint64_t kMaxExeBytes = uint64_t{512} << 20;
constexpr size_t kMaxFds = 4096;

std::string read_proc(const std::string& path, size_t cap = kMaxProcFile) {
  try {
    return read_file(path, cap);
  } catch (const SysError&) {
    return "";
  }
}

std::string link_of(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

std::vector<std::string> numeric_entries(const std::string& dir, size_t cap) {
  std::vector<std::string> out;
  DIR* dp = ::opendir(dir.c_str());
  if (dp == nullptr) return out;
  ScopeExit close_dir([&] { ::closedir(dp); });
  while (dirent* de = ::readdir(dp)) {
    std::string n = de->d_name;
    if (!n.empty() && std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      out.push_back(n);
      if (out.size() >= cap) break;
    }
  }
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  return out;
}

// Fields of /proc/PID/stat after the command name (which may hold spaces and ')').
std::vector<std::string> stat_fields(const std::string& stat) {
  std::vector<std::string> f;
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return f;
  std::istringstream is(stat.substr(close + 1));
  std::string w;
  while (is >> w) f.push_back(w);
  return f;  // f[0] is field 3 (state), f[1] ppid, f[19] starttime
}

uint64_t boot_time() {
  std::istringstream is(read_proc("/proc/stat"));
  std::string line;
  while (std::getline(is, line)) {
    if (line.rfind("btime ", 0) == 0) {
      auto v = parse_uint(line.substr(6));
      return v ? v.value : 0;
    }
  }
  return 0;
}

std::string exe_sha256(const std::string& pid) {
  // /proc/PID/exe opens the very file the process runs, even when deleted or replaced.
  int fd = ::open(("/proc/" + pid + "/exe").c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return "";
  UniqueFd f(fd);
  struct stat st {};
  if (::fstat(f.get(), &st) < 0 || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) > kMaxExeBytes)
    return "";
  try {
    return sha256_fd(f.get(), "exe");
  } catch (const Error&) {
    return "";
  }
}

}  // namespace

std::vector<VolatileBlob> collect_volatile(pid_t init_pid, size_t max_processes) {
  std::string init = std::to_string(init_pid);
  std::string ns = link_of("/proc/" + init + "/ns/pid");
  if (ns.empty()) throw SysError("readlink", "/proc/" + init + "/ns/pid", errno);
  uint64_t btime = boot_time();
  long tick = ::sysconf(_SC_CLK_TCK);

  nlohmann::json procs = nlohmann::json::array();
  nlohmann::json files = nlohmann::json::object();
  for (const auto& pid : numeric_entries("/proc", SIZE_MAX)) {
    if (procs.size() >= max_processes) break;
    if (link_of("/proc/" + pid + "/ns/pid") != ns) continue;
    std::string base = "/proc/" + pid;
    auto f = stat_fields(read_proc(base + "/stat"));
    if (f.size() < 20) continue;  // gone meanwhile
    nlohmann::json p;
    p["pid"] = std::stoll(pid);
    p["ppid"] = std::stoll(f[1]);
    p["state"] = f[0];
    std::istringstream st(read_proc(base + "/status"));
    std::string line;
    while (std::getline(st, line)) {
      if (line.rfind("Uid:", 0) == 0 || line.rfind("Gid:", 0) == 0 || line.rfind("NSpid:", 0) == 0) {
        std::istringstream ls(line.substr(line.find(':') + 1));
        std::vector<long long> ids;
        long long v = 0;
        while (ls >> v) ids.push_back(v);
        std::string key = line.substr(0, line.find(':'));
        std::transform(key.begin(), key.end(), key.begin(), ::tolower);
        p[key] = ids;
      }
    }
    std::string cmd = read_proc(base + "/cmdline", 64 * 1024);
    nlohmann::json argv = nlohmann::json::array();
    for (size_t i = 0; i < cmd.size();) {
      size_t z = cmd.find('\0', i);
      if (z == std::string::npos) z = cmd.size();
      argv.push_back(cmd.substr(i, z - i));
      i = z + 1;
    }
    p["cmdline"] = argv;
    p["exe"] = link_of(base + "/exe");
    p["exe_sha256"] = exe_sha256(pid);
    p["cwd"] = link_of(base + "/cwd");
    p["root"] = link_of(base + "/root");
    auto ticks = parse_uint(f[19]);
    if (ticks && tick > 0) {
      p["start_time_unix"] = btime + ticks.value / static_cast<uint64_t>(tick);
    }
    nlohmann::json fds = nlohmann::json::array();
    for (const auto& fd : numeric_entries(base + "/fd", kMaxFds))
      fds.push_back({{"fd", std::stoll(fd)}, {"target", link_of(base + "/fd/" + fd)}});
    files[pid] = fds;
    procs.push_back(std::move(p));
  }

  std::string ibase = "/proc/" + init;
  std::string sockets;
  for (const char* n : {"tcp", "tcp6", "udp", "udp6", "raw", "raw6", "unix", "packet"}) {
    sockets += std::string("== ") + n + " ==\n" + read_proc(ibase + "/net/" + n);
  }
  nlohmann::json cg = nlohmann::json::object();
  std::string cgline = read_proc(ibase + "/cgroup", 64 * 1024);
  if (cgline.rfind("0::", 0) == 0) {  // cgroup v2
    std::string rel = cgline.substr(3);
    while (!rel.empty() && rel.back() == '\n') rel.pop_back();
    if (rel.find("..") == std::string::npos) {
      cg["path"] = rel;
      for (const char* n : {"cgroup.procs", "cgroup.stat", "cgroup.freeze", "memory.current",
                            "memory.stat", "memory.events", "cpu.stat", "pids.current", "io.stat"})
        cg[n] = read_proc("/sys/fs/cgroup" + rel + "/" + n);
    }
  } else {
    cg["raw"] = cgline;
  }
  return {{"processes.json", procs.dump(2) + "\n"},
          {"open-files.json", files.dump(2) + "\n"},
          {"sockets.txt", sockets},
          {"mountinfo.txt", read_proc(ibase + "/mountinfo")},
          {"cgroup.json", cg.dump(2) + "\n"}};
}

}  // namespace goodcop::backups
