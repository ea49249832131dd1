// cgroup.cc: a jail's cgroups on v2, v1, or the hybrid of both: create, limit, join, destroy.
// Freezing, killing and statistics live in cg_control.cc.

#include "kernel/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "base/log.h"
#include "kernel/cg_util.h"

namespace goodcop {
namespace {

constexpr const char* kParent = "goodcop";
constexpr uint64_t kCpuPeriodUs = 100000;  // 100 ms, the kernel's default CFS period

void check_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && name != "." && name != "..";
  for (char c : name)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '.' || c == '-');
  if (!ok) throw Error("cgroup name '" + name + "' is invalid (expected 1-64 of [A-Za-z0-9_.-])");
}

// mkdir that accepts an existing directory (the shared `goodcop` parent).
void mkdir_parent(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) < 0 && errno != EEXIST) throw SysError("mkdir", path, errno);
}

// Creates ROOT/goodcop (shared) and then DIR (ours). Another jail's destroy may rmdir the
// empty shared parent between the two mkdirs: ENOENT then means "make the parent again".
template <typename F>
void make_own_dir(const std::string& root, const std::string& dir, const std::string& name,
                  F after_parent) {
  for (int attempt = 0;; ++attempt) {
    mkdir_parent(root + "/" + kParent);
    after_parent();
    try {
      cg::mkdir_own(dir, name);
      return;
    } catch (const SysError& e) {
      if (e.code() != ENOENT || attempt == 3) throw;
    }
  }
}

// Removes the shared `goodcop` parent above a removed jail dir when it is empty, so the host
// keeps no trace of goodcop once its last jail is gone. rmdir(2) refuses a non-empty cgroup
// (EBUSY/ENOTEMPTY): then another jail still lives there and the parent stays.
void remove_parent_if_empty(const std::string& jail_dir) {
  std::string parent = jail_dir.substr(0, jail_dir.rfind('/'));
  if (parent.size() > std::strlen(kParent) &&
      parent.compare(parent.size() - std::strlen(kParent), std::string::npos, kParent) == 0)
    ::rmdir(parent.c_str());
}

// Makes `controllers` available to goodcop/*: v2 only hands a controller to a child when the
// parent lists it in cgroup.subtree_control ("top-down constraint", cgroup-v2.rst). The root is
// written only when a controller is missing there; the goodcop parent holds no processes, so
// the "no internal processes" rule never refuses us.
void enable_v2_controllers(const std::string& root, const std::vector<std::string>& controllers) {
  for (const std::string& dir : {root, root + "/" + kParent}) {
    std::string have = cg::read_trimmed(dir + "/cgroup.subtree_control");
    auto words = cg::words(have);
    for (auto& c : controllers)
      if (std::find(words.begin(), words.end(), c) == words.end())
        cg::write_ctl(dir + "/cgroup.subtree_control", "+" + c);
  }
}

}  // namespace

int join_self(const CgroupJoinFds& fds) noexcept {
  for (const UniqueFd& fd : fds.procs) {
    // "0" means "the writing process" (cgroup-v2.rst, cgroups-v1 cgroups.txt).
    if (::write(fd.get(), "0", 1) < 0) return errno;
  }
  return 0;
}

JailCgroup JailCgroup::create(const std::string& name, const Limits& limits,
                              const CgroupLayout& layout) {
  check_name(name);
  if (limits.cpu_millis && *limits.cpu_millis < 10)
    throw Error("cgroup '" + name + "': cpu limit below 0.01 cpu (the kernel's minimum quota)");
  JailCgroup cg;  // on any throw below, its destructor removes what was made so far
  cg.name_ = name;

  // Decide where each controller lives: v2 when the v2 hierarchy offers it, else v1.
  std::vector<std::string> v2_controllers;
  std::vector<const CgroupHierarchy*> v1_needed;
  auto need = [&](const std::string& ctrl, bool required, const char* why) {
    if (layout.v2_has(ctrl)) {
      v2_controllers.push_back(ctrl);
    } else if (const CgroupHierarchy* h = layout.v1_for(ctrl)) {
      if (std::find(v1_needed.begin(), v1_needed.end(), h) == v1_needed.end())
        v1_needed.push_back(h);
    } else if (required) {
      throw Error("cgroup '" + name + "': the host has no '" + ctrl + "' controller (needed for " +
                  why + ")");
    }
  };
  need("memory", limits.memory_bytes.has_value(), "the memory limit");  // stats even unlimited
  need("pids", limits.pids.has_value(), "the pids limit");
  if (limits.cpu_millis) need("cpu", true, "the cpu limit");
  if (!layout.v2) {
    need("cpuacct", false, "");                              // cpu usage (v2 has cpu.stat always)
    need("freezer", true, "freezing and killing the jail");  // v2 has cgroup.freeze instead
  }

  if (layout.v2) {
    const std::string root = layout.v2->mount_point;
    const std::string dir = root + "/" + kParent + "/" + name;
    make_own_dir(root, dir, name, [&] {
      if (!v2_controllers.empty()) enable_v2_controllers(root, v2_controllers);
    });
    cg.dirs_.push_back({dir, {}});
    cg.v2_dir_ = dir;
    cg.v2_freeze_ = ::access((dir + "/cgroup.freeze").c_str(), F_OK) == 0;
    cg.v2_kill_ = ::access((dir + "/cgroup.kill").c_str(), F_OK) == 0;
    // A v2 hierarchy too old for cgroup.freeze (< 5.2) needs the v1 freezer.
    if (!cg.v2_freeze_) need("freezer", true, "freezing and killing the jail");
  }
  for (const CgroupHierarchy* h : v1_needed) {
    const std::string dir = h->mount_point + "/" + kParent + "/" + name;
    make_own_dir(h->mount_point, dir, name, [] {});
    cg.dirs_.push_back({dir, h->controllers});
  }

  // Limits. Memory: RAM only, no swap, so a jail cannot push the host into swapping; the
  // memcg OOM killer then picks its victim inside this cgroup only (memory.oom_control /
  // memory.oom.group stay at their defaults: the hog dies, the rest of the jail lives).
  if (limits.memory_bytes) {
    const std::string bytes = std::to_string(*limits.memory_bytes);
    if (const Dir* d = cg.find("memory"); d && d->controllers.empty()) {
      cg::write_ctl(d->path + "/memory.max", bytes);
      if (::access((d->path + "/memory.swap.max").c_str(), F_OK) == 0)
        cg::write_ctl(d->path + "/memory.swap.max", "0");
    } else if (d) {
      // v1: memsw (RAM + swap) must stay >= limit_in_bytes, so the plain limit goes first.
      cg::write_ctl(d->path + "/memory.limit_in_bytes", bytes);
      if (::access((d->path + "/memory.memsw.limit_in_bytes").c_str(), F_OK) == 0)
        cg::write_ctl(d->path + "/memory.memsw.limit_in_bytes", bytes);
    }
  }
  if (limits.pids) {
    if (const Dir* d = cg.find("pids"))
      cg::write_ctl(d->path + "/pids.max", std::to_string(*limits.pids));
  }
  if (limits.cpu_millis) {
    const uint64_t quota = *limits.cpu_millis * kCpuPeriodUs / 1000;
    if (const Dir* d = cg.find("cpu"); d && d->controllers.empty()) {
      cg::write_ctl(d->path + "/cpu.max",
                    std::to_string(quota) + " " + std::to_string(kCpuPeriodUs));
    } else if (d) {
      cg::write_ctl(d->path + "/cpu.cfs_period_us", std::to_string(kCpuPeriodUs));
      cg::write_ctl(d->path + "/cpu.cfs_quota_us", std::to_string(quota));
    }
  }
  log_debug("cgroup '{}': created {} director{}", name, cg.dirs_.size(),
            cg.dirs_.size() == 1 ? "y" : "ies");
  return cg;
}

std::optional<JailCgroup> JailCgroup::open_existing(const std::string& name,
                                                    const CgroupLayout& layout) {
  check_name(name);
  JailCgroup cg;
  cg.name_ = name;
  // goodcop makes ROOT/goodcop/NAME as root, right below the hierarchy's root; a directory
  // elsewhere, or one chown'ed to a delegate (who could then have made it), is not ours.
  auto owned_dir = [](const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0;
  };
  auto take = [&](const std::string& mount, std::vector<std::string> controllers) {
    const std::string parent = mount + "/" + kParent;
    const std::string dir = parent + "/" + name;
    if (owned_dir(parent) && owned_dir(dir)) cg.dirs_.push_back({dir, std::move(controllers)});
  };
  if (layout.v2) {
    take(layout.v2->mount_point, {});
    if (!cg.dirs_.empty()) {
      cg.v2_dir_ = cg.dirs_[0].path;
      cg.v2_freeze_ = ::access((cg.v2_dir_ + "/cgroup.freeze").c_str(), F_OK) == 0;
      cg.v2_kill_ = ::access((cg.v2_dir_ + "/cgroup.kill").c_str(), F_OK) == 0;
    }
  }
  for (const CgroupHierarchy& h : layout.v1) take(h.mount_point, h.controllers);
  if (cg.dirs_.empty()) return std::nullopt;
  return cg;
}

void JailCgroup::clean_stale(const std::string& name, const CgroupLayout& layout) {
  std::optional<JailCgroup> cg = open_existing(name, layout);
  if (!cg) return;
  log_debug("cgroup '{}': removing {} stale director{}", name, cg->dirs_.size(),
            cg->dirs_.size() == 1 ? "y" : "ies");
  cg->destroy();
}

JailCgroup::JailCgroup(JailCgroup&& o) noexcept
    : name_(std::move(o.name_)),
      dirs_(std::exchange(o.dirs_, {})),
      v2_dir_(std::move(o.v2_dir_)),
      v2_freeze_(o.v2_freeze_),
      v2_kill_(o.v2_kill_) {}

JailCgroup& JailCgroup::operator=(JailCgroup&& o) noexcept {
  if (this != &o) {
    try {
      destroy();
    } catch (...) {
    }
    name_ = std::move(o.name_);
    dirs_ = std::exchange(o.dirs_, {});
    v2_dir_ = std::move(o.v2_dir_);
    v2_freeze_ = o.v2_freeze_;
    v2_kill_ = o.v2_kill_;
  }
  return *this;
}

JailCgroup::~JailCgroup() {
  try {
    destroy();
  } catch (const std::exception& e) {
    log_debug("cgroup '{}': destroy: {}", name_, e.what());
  }
}

std::vector<std::string> JailCgroup::dirs() const {
  std::vector<std::string> out;
  for (auto& d : dirs_) out.push_back(d.path);
  return out;
}

const JailCgroup::Dir* JailCgroup::find(const std::string& controller) const {
  for (auto& d : dirs_) {
    if (d.controllers.empty()) {
      // The v2 directory serves a controller when the hierarchy enabled it for us.
      std::string enabled;
      try {
        enabled = cg::read_trimmed(d.path + "/cgroup.controllers");
      } catch (const SysError&) {
        continue;
      }
      auto w = cg::words(enabled);
      if (std::find(w.begin(), w.end(), controller) != w.end()) return &d;
    } else if (std::find(d.controllers.begin(), d.controllers.end(), controller) !=
               d.controllers.end()) {
      return &d;
    }
  }
  return nullptr;
}

void JailCgroup::add(pid_t pid) const {
  const std::string s = std::to_string(pid);
  for (auto& d : dirs_) cg::write_ctl(d.path + "/cgroup.procs", s);
}

CgroupJoinFds JailCgroup::join_fds() const {
  CgroupJoinFds fds;
  for (auto& d : dirs_) fds.procs.push_back(open_fd(d.path + "/cgroup.procs", O_WRONLY));
  return fds;
}

void JailCgroup::release() noexcept {
  dirs_.clear();
  v2_dir_.clear();
}

void JailCgroup::destroy() {
  if (dirs_.empty()) return;
  kill_all();
  // Bottom-up: children the jail may have created first, then ours, newest hierarchy first.
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    cg::remove_tree(it->path);
    remove_parent_if_empty(it->path);
  }
  log_debug("cgroup '{}': destroyed", name_);
  dirs_.clear();
  v2_dir_.clear();
}

}  // namespace goodcop
