#include "kernel/users.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <optional>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "base/parse.h"
#include "kernel/userns.h"

namespace goodcop::kernel {
namespace {

// /etc/passwd of a large site is well below this; a bigger file is someone's trick.
constexpr size_t kMaxFile = 4u << 20;

// A name as typed, quoted for a message: control characters escaped (no terminal games).
std::string quoted(std::string_view s) {
  std::string out = "'";
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "'";
}

// The jail's file `rel` (e.g. "etc/passwd"), resolved as the jail would: RESOLVE_IN_ROOT
// makes "/" and ".." stop at the tree's root, RESOLVE_NO_MAGICLINKS refuses /proc/*/fd tricks,
// RESOLVE_NO_XDEV stays on the tree's own filesystem (the jail sees no host submount of it).
// O_NONBLOCK: a planted fifo must not hang us. nullopt when there is no such file.
std::optional<std::string> read_jail_file(const std::string& root, const char* rel) {
  const std::string where = (root == "/" ? "" : root) + "/" + rel;
  UniqueFd dir = open_fd(root, O_PATH | O_DIRECTORY);
  open_how how{};
  how.flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  int fd;
  do {
    fd = static_cast<int>(::syscall(SYS_openat2, dir.get(), rel, &how, sizeof how));
  } while (fd < 0 && errno == EAGAIN);  // a concurrent rename in the tree: retry
  if (fd < 0 && errno == ENOENT) return std::nullopt;
  check(fd, "openat2", where);
  UniqueFd file(fd);
  struct stat st = fstat_fd(file.get(), where);
  if (!S_ISREG(st.st_mode)) throw Error("'" + where + "' is not a regular file");
  if (static_cast<uint64_t>(st.st_size) > kMaxFile)
    throw Error("'" + where + "' is larger than " + format_size(kMaxFile));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(file.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    check(n, "read", where);
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxFile)
      throw Error("'" + where + "' is larger than " + format_size(kMaxFile));
  }
}

// The colon-separated fields of each entry ("name:x:uid:gid:..."), skipping blank and
// comment lines and NIS compat entries (+name, -name), which a jail has no NIS for.
std::vector<std::vector<std::string_view>> entries(std::string_view text) {
  std::vector<std::vector<std::string_view>> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line[0] == '#' || line[0] == '+' || line[0] == '-') continue;
    std::vector<std::string_view> f;
    size_t s = 0;
    for (;;) {
      size_t c = line.find(':', s);
      f.push_back(line.substr(s, c == std::string_view::npos ? c : c - s));
      if (c == std::string_view::npos) break;
      s = c + 1;
    }
    out.push_back(std::move(f));
  }
  return out;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// An id from a file or from the user, in the jail's range; nullopt when it is no number.
// `what` starts the message for an id out of range ("user 'www' has uid 70000").
std::optional<uint32_t> jail_id(std::string_view text, const std::string& what) {
  auto v = parse_uint(text);
  if (!v) return std::nullopt;
  if (v.value >= kJailIdCount)
    throw Error(what + ", outside the jail's ids 0-" + std::to_string(kJailIdCount - 1));
  return static_cast<uint32_t>(v.value);
}

}  // namespace

std::pair<uint32_t, uint32_t> resolve_user(const std::string& root, const std::string& user) {
  if (user.empty()) throw Error("empty user name");
  if (all_digits(user) && !parse_uint(user)) throw Error("invalid user " + quoted(user));
  const std::string text = read_jail_file(root, "etc/passwd").value_or("");
  if (all_digits(user)) {
    const uint32_t uid = *jail_id(user, "uid " + user);
    for (const auto& f : entries(text)) {
      if (f.size() < 4) continue;
      auto listed = parse_uint(f[2]);
      if (!listed || listed.value != uid) continue;
      if (auto gid = jail_id(f[3], "uid " + user + " has gid " + std::string(f[3])))
        return {uid, *gid};
    }
    return {uid, uid};
  }
  for (const auto& f : entries(text)) {
    if (f.size() < 4 || f[0] != user) continue;
    const std::string who = "user " + quoted(user);
    auto uid = jail_id(f[2], who + " has uid " + std::string(f[2]));
    auto gid = jail_id(f[3], who + " has gid " + std::string(f[3]));
    if (!uid || !gid) throw Error(who + ": malformed entry in the jail's /etc/passwd");
    return {*uid, *gid};
  }
  throw Error("user " + quoted(user) + " not found in jail");
}

std::vector<uint32_t> resolve_groups(const std::string& root, const std::string& user,
                                     uint32_t gid) {
  std::vector<uint32_t> groups{gid};
  const std::string text = read_jail_file(root, "etc/group").value_or("");
  for (const auto& f : entries(text)) {
    // name:password:gid:member,member,...
    if (f.size() < 4) continue;
    bool member = false;
    std::string_view list = f[3];
    while (!list.empty() && !member) {
      size_t comma = list.find(',');
      member = list.substr(0, comma) == user;
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
    if (!member) continue;
    auto g = jail_id(f[2], "user " + quoted(user) + " is in group " + quoted(f[0]) +
                               " with gid " + std::string(f[2]));
    if (!g) continue;  // a malformed line the user is listed in: not a group to grant
    if (std::find(groups.begin(), groups.end(), *g) == groups.end()) groups.push_back(*g);
  }
  return groups;
}

uint32_t resolve_group(const std::string& root, const std::string& group) {
  if (group.empty()) throw Error("empty group name");
  if (all_digits(group)) {
    auto gid = jail_id(group, "gid " + group);
    if (!gid) throw Error("invalid group " + quoted(group));
    return *gid;
  }
  const std::string text = read_jail_file(root, "etc/group").value_or("");
  for (const auto& f : entries(text)) {
    if (f.size() < 3 || f[0] != group) continue;
    const std::string who = "group " + quoted(group);
    auto gid = jail_id(f[2], who + " has gid " + std::string(f[2]));
    if (!gid) throw Error(who + ": malformed entry in the jail's /etc/group");
    return *gid;
  }
  throw Error("group " + quoted(group) + " not found in jail");
}

}  // namespace goodcop::kernel
