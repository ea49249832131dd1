// cg_layout.cc: which cgroup hierarchies this host mounts, and which controllers each offers.

#include <algorithm>
#include <sstream>
#include <string_view>

#include "base/error.h"
#include "base/fd.h"
#include "kernel/cgroup.h"

namespace goodcop {
namespace {

// The controllers a v1 super-block option may name; everything else (rw, nsdelegate,
// name=systemd, release_agent=...) is not a controller.
constexpr std::string_view kV1Controllers[] = {
    "cpu",      "cpuacct", "cpuset",     "memory",  "devices", "freezer", "net_cls",
    "net_prio", "blkio",   "perf_event", "hugetlb", "pids",    "rdma",    "misc"};

// mountinfo escapes space, tab, newline and backslash as \ooo (proc_pid_mountinfo(5)).
std::string unescape(std::string_view s) {
  auto oct = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && oct(s[i + 1]) && oct(s[i + 2]) && oct(s[i + 3])) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

CgroupLayout CgroupLayout::detect() {
  CgroupLayout layout;
  const std::string text = read_file("/proc/self/mountinfo", 16u << 20);
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    // id parent maj:min root mount-point options [optional...] - fstype source super-options
    std::vector<std::string> f = split(line, ' ');
    auto dash = std::find(f.begin(), f.end(), "-");
    if (f.size() < 5 || dash == f.end() || f.end() - dash < 4) continue;
    const std::string& fstype = *(dash + 1);
    const std::string& super = *(dash + 3);
    if (fstype == "cgroup2") {
      if (layout.v2) continue;
      CgroupHierarchy h;
      h.mount_point = unescape(f[4]);
      h.v2 = true;
      try {
        std::string c = read_file(h.mount_point + "/cgroup.controllers", 4096);
        for (auto& tok : split(c, ' ')) {
          std::string t = tok;
          t.erase(std::remove(t.begin(), t.end(), '\n'), t.end());
          if (!t.empty()) h.controllers.push_back(t);
        }
      } catch (const SysError&) {
        continue;  // not readable from here (another mount ns view): not usable either
      }
      layout.v2 = std::move(h);
    } else if (fstype == "cgroup") {
      CgroupHierarchy h;
      h.mount_point = unescape(f[4]);
      for (auto& opt : split(super, ',')) {
        if (std::find(std::begin(kV1Controllers), std::end(kV1Controllers), opt) !=
            std::end(kV1Controllers))
          h.controllers.push_back(opt);
      }
      if (h.controllers.empty()) continue;  // a named hierarchy (name=systemd): no resources
      bool dup = false;
      for (auto& c : h.controllers) dup = dup || layout.v1_for(c) != nullptr;
      if (!dup) layout.v1.push_back(std::move(h));
    }
  }
  return layout;
}

const CgroupHierarchy* CgroupLayout::v1_for(const std::string& controller) const {
  for (auto& h : v1)
    if (std::find(h.controllers.begin(), h.controllers.end(), controller) != h.controllers.end())
      return &h;
  return nullptr;
}

bool CgroupLayout::v2_has(const std::string& controller) const {
  return v2 && std::find(v2->controllers.begin(), v2->controllers.end(), controller) !=
                   v2->controllers.end();
}

}  // namespace goodcop
