// cg_util.cc: reading and writing cgroupfs files.

#include "kernel/cg_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "base/error.h"
#include "base/fd.h"
#include "base/parse.h"

namespace goodcop::cg {
namespace {

// A jail cannot normally create sub-cgroups (they belong to host root); bound the walk anyway.
constexpr int kMaxDepth = 32;

// Sub-directories of `dir` (sub-cgroups); empty when `dir` is gone.
std::vector<std::string> subdirs(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return out;
    throw SysError("opendir", dir, errno);
  }
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (e->d_type == DT_DIR && n != "." && n != "..") out.push_back(dir + "/" + n);
  }
  ::closedir(d);
  return out;
}

void collect(const std::string& dir, std::vector<pid_t>& out, int depth) {
  std::string text;
  try {
    text = read_file(dir + "/cgroup.procs", 16u << 20);
  } catch (const SysError& e) {
    if (e.code() == ENOENT) return;
    throw;
  }
  for (auto& w : words(text)) {
    auto p = parse_uint(w, 1, INT32_MAX);
    if (p) out.push_back(static_cast<pid_t>(p.value));
  }
  if (depth < kMaxDepth)
    for (auto& s : subdirs(dir)) collect(s, out, depth + 1);
}

void remove(const std::string& dir, int depth) {
  if (depth < kMaxDepth)
    for (auto& s : subdirs(dir)) remove(s, depth + 1);
  // An exiting task leaves the cgroup in do_exit(), a moment after SIGKILL was delivered.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
    if (errno != EBUSY || std::chrono::steady_clock::now() > deadline)
      throw SysError("rmdir", dir, errno);
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

}  // namespace

void write_ctl(const std::string& path, const std::string& value) {
  UniqueFd fd = open_fd(path, O_WRONLY);
  ssize_t n;
  do {
    n = ::write(fd.get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) throw SysError("write", path, errno);
  if (static_cast<size_t>(n) != value.size()) throw SysError("write", path, EIO);
}

std::string read_trimmed(const std::string& path) {
  std::string s = read_file(path, 1u << 20);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ' ' || c == '\n' || c == '\t') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::optional<uint64_t> keyed(const std::string& text, const std::string& key) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ' ') {
      auto v = parse_uint(line.substr(key.size() + 1));
      if (v) return v.value;
      return std::nullopt;
    }
    pos = end + 1;
  }
  return std::nullopt;
}

std::optional<uint64_t> read_limit(const std::string& path) {
  std::string s = read_trimmed(path);
  if (s == "max") return std::nullopt;
  auto v = parse_uint(s);
  if (!v) throw Error("cgroup file '" + path + "': unexpected content '" + s + "'");
  // v1 reports "unlimited" as PAGE_COUNTER_MAX pages in bytes (about 2^63, page-rounded).
  if (v.value >= (uint64_t{1} << 62)) return std::nullopt;
  return v.value;
}

void mkdir_own(const std::string& path, const std::string& name) {
  if (::mkdir(path.c_str(), 0755) == 0) return;
  if (errno == EEXIST) throw Error("cgroup '" + name + "' already exists ('" + path + "')");
  throw SysError("mkdir", path, errno);
}

void collect_pids(const std::string& dir, std::vector<pid_t>& out) { collect(dir, out, 0); }

void remove_tree(const std::string& dir) { remove(dir, 0); }

}  // namespace goodcop::cg
