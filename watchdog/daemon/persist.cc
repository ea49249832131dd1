#include "watchdog/daemon/persist.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/fd.h"

namespace goodcop::supervisor {
namespace {

constexpr int kRecordVersion = 1;
constexpr const char* kSuffix = ".state";
constexpr size_t kMaxRecordBytes = 64 * 1024;

}  // namespace

std::string format_record(const JailRecord& r) {
  nlohmann::json j = {
      {"version", kRecordVersion},
      {"jail", r.jail},
      {"state", state_name(r.state)},
      {"action", action_name(r.action)},
      {"dirty", r.dirty},
      {"incident", r.incident},
      {"evidence", r.evidence},
      {"restarts", r.restarts},
      {"maintain_until_ms", r.maintain_until_ms},
      {"snapshot", r.snapshot},
  };
  return j.dump(2) + "\n";
}

JailRecord parse_record(const std::string& text, const std::string& what) {
  auto fail = [&](const std::string& why) -> Error {
    return Error("state file '" + what + "': " + why);
  };
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) throw fail("not a JSON object");
  try {
    if (j.at("version").get<int>() != kRecordVersion)
      throw fail("unsupported version " + j.at("version").dump());
    JailRecord r;
    r.jail = j.at("jail").get<std::string>();
    auto st = parse_state(j.at("state").get<std::string>());
    if (!st) throw fail("unknown state '" + j.at("state").get<std::string>() + "'");
    auto ac = parse_action(j.at("action").get<std::string>());
    if (!ac) throw fail("unknown action '" + j.at("action").get<std::string>() + "'");
    r.state = *st;
    r.action = *ac;
    r.dirty = j.at("dirty").get<bool>();
    r.incident = j.at("incident").get<std::string>();
    r.evidence = j.at("evidence").get<std::string>();
    r.restarts = j.at("restarts").get<unsigned>();
    r.maintain_until_ms = j.at("maintain_until_ms").get<int64_t>();
    // Added after version 1 was first written: absent means no snapshot in progress.
    r.snapshot = j.value("snapshot", false);
    return r;
  } catch (const nlohmann::json::exception& e) {
    // json's messages are "[json.exception.out_of_range.403] key 'x' not found": keep the tail.
    std::string m = e.what();
    auto pos = m.find("] ");
    throw fail(pos == std::string::npos ? m : m.substr(pos + 2));
  }
}

StateStore::StateStore(std::string dir) : dir_(std::move(dir)) {
  if (::mkdir(dir_.c_str(), 0700) < 0 && errno != EEXIST) throw SysError("mkdir", dir_, errno);
  struct stat st {};
  check(::stat(dir_.c_str(), &st), "stat", dir_);
  if (!S_ISDIR(st.st_mode)) throw SysError("mkdir", dir_, ENOTDIR);
}

std::string StateStore::path_of(const std::string& jail) const {
  if (!valid_jail_name(jail)) throw Error("invalid jail name '" + jail + "'");
  return dir_ + "/" + jail + kSuffix;
}

void StateStore::save(const JailRecord& r) const {
  write_file_atomic(path_of(r.jail), format_record(r), 0600);
}

std::optional<JailRecord> StateStore::load(const std::string& jail) const {
  std::string path = path_of(jail);
  std::string text;
  try {
    text = read_file(path, kMaxRecordBytes);
  } catch (const SysError& e) {
    if (e.code() == ENOENT) return std::nullopt;
    throw;
  }
  JailRecord r = parse_record(text, path);
  if (r.jail != jail) throw Error("state file '" + path + "': names jail '" + r.jail + "'");
  return r;
}

void StateStore::remove(const std::string& jail) const {
  std::string path = path_of(jail);
  if (::unlink(path.c_str()) < 0 && errno != ENOENT) throw SysError("unlink", path, errno);
}

std::vector<std::string> StateStore::list() const {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) throw SysError("opendir", dir_, errno);
  const std::string suffix = kSuffix;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() <= suffix.size() || n.compare(n.size() - suffix.size(), suffix.size(), suffix))
      continue;
    n.resize(n.size() - suffix.size());
    if (valid_jail_name(n)) out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Resume resume(const std::optional<JailRecord>& rec) {
  if (!rec) return {State::kStarting, Action::kStart, "no saved state: start"};
  switch (rec->state) {
    case State::kStarting:
      if (rec->dirty) return {State::kRestoring, Action::kKill, "resumed: restore before start"};
      return {State::kStarting, Action::kStart, "resumed: start from scratch"};
    case State::kRunning:
    case State::kChecking:
      // A jail outlives its daemon: find it rather than restart a customer's services.
      return {State::kStarting, Action::kAdopt, "resumed: adopt the running jail"};
    case State::kTampered:
      return {State::kTampered, Action::kFreeze, "resumed: freeze, then write evidence"};
    case State::kPreserving:
      // The bundle is written to a temporary name and renamed when synced, so a partial
      // one is never visible: re-freeze (idempotent) and write it again from scratch.
      return {State::kTampered, Action::kFreeze, "resumed: redo evidence"};
    case State::kRestoring:
      // Evidence was synced before we entered restoring; kill again, restore from scratch.
      return {State::kRestoring, Action::kKill, "resumed: redo restore from scratch"};
    case State::kFrozen:
      return {State::kFrozen, Action::kFreeze, "resumed: keep frozen"};
    case State::kMaintenance:
      return {State::kMaintenance, Action::kAdopt, "resumed: maintenance goes on"};
    case State::kFailed:
      return {State::kFailed, Action::kNone, "resumed: still failed"};
    case State::kStopped:
      if (rec->dirty)
        return {State::kRestoring, Action::kKill, "resumed: restore before start (stopped dirty)"};
      return {State::kStarting, Action::kStart, "resumed: start"};
  }
  return {State::kStarting, Action::kStart, "resumed: start"};
}

bool valid_jail_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || name[0] == '.' || name[0] == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

}  // namespace goodcop::supervisor
