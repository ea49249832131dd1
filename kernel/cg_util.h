#pragma once
// Small helpers over cgroupfs files, shared by cgroup.cc and cg_control.cc (internal header).

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace goodcop::cg {

// Writes `value` to a control file in one write(2) (cgroupfs parses each write whole).
void write_ctl(const std::string& path, const std::string& value);
// Reads a small control file without its trailing newline.
std::string read_trimmed(const std::string& path);
// Splits on spaces and newlines.
std::vector<std::string> words(const std::string& s);
// The value of `key` in a "key value" file (cgroup.events, memory.events, cpu.stat, ...).
std::optional<uint64_t> keyed(const std::string& text, const std::string& key);
// A number file: "max" (v2) and values near 2^63 (v1's "unlimited") read as nullopt.
std::optional<uint64_t> read_limit(const std::string& path);
// mkdir of a jail's own directory; EEXIST becomes Error("cgroup 'NAME' already exists").
void mkdir_own(const std::string& path, const std::string& name);
// The pids in `dir`/cgroup.procs and in every sub-cgroup below it.
void collect_pids(const std::string& dir, std::vector<pid_t>& out);
// rmdir of `dir` after its sub-cgroups (control files need no unlink: cgroupfs removes them).
// A missing directory is not an error; EBUSY is retried briefly (a task may still be exiting).
void remove_tree(const std::string& dir);

}  // namespace goodcop::cg
