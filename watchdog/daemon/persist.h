#pragma once
// Persisted state: per jail, the lifecycle state and the heal step cursor, written
// atomically (write_file_atomic: temp file, fsync, rename, fsync of the directory)
// as one JSON file in the state directory, BEFORE the step's action runs. A daemon
// that crashed at any point finds the last step it started and resumes from it.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "watchdog/daemon/lifecycle.h"

namespace goodcop::supervisor {

// What survives a daemon crash about one jail.
struct JailRecord {
  std::string jail;
  State state = State::kStarting;
  Action action = Action::kNone;  // the step cursor: the action started in `state`
  // The tree is known or suspected to deviate from golden (set on deviation, cleared
  // when a restore completes): a jail stopped while dirty is restored before it starts.
  bool dirty = false;
  std::string incident;           // id of the incident being handled ("" when none)
  std::string evidence;           // the last evidence bundle written
  unsigned restarts = 0;          // restarts since the daemon started supervising the jail
  int64_t maintain_until_ms = 0;  // end of the maintenance window (Unix ms), 0 when none
  // A `goodcop snapshot` froze the jail and has not thawed it yet: a daemon that died in
  // between thaws the jail it adopts (an operator's snapshot must not freeze a customer).
  bool snapshot = false;
  bool operator==(const JailRecord&) const = default;
};

// The JSON form (versioned) and back. parse_record throws Error naming `what` on
// malformed content, unknown states or actions, or a wrong version.
std::string format_record(const JailRecord& r);
JailRecord parse_record(const std::string& text, const std::string& what);

// The state directory: one "<jail>.state" file per jail (mode 0600, directory 0700).
class StateStore {
 public:
  // Creates `dir` (0700) if missing; throws SysError.
  explicit StateStore(std::string dir);
  const std::string& dir() const { return dir_; }
  // Writes the record atomically; throws SysError.
  void save(const JailRecord& r) const;
  // The record of `jail`, or nullopt when it has none. Throws on a corrupt file.
  std::optional<JailRecord> load(const std::string& jail) const;
  // Removes the record (the jail's policy went away); missing is fine.
  void remove(const std::string& jail) const;
  // The jails that have a record, sorted.
  std::vector<std::string> list() const;

 private:
  std::string path_of(const std::string& jail) const;
  std::string dir_;
};

// How a restarted daemon picks up a jail: the state to enter and the action to run.
struct Resume {
  State state;
  Action action;
  const char* why;  // the event reason ("resumed: redo evidence", ...)
  bool operator==(const Resume& o) const { return state == o.state && action == o.action; }
};

// The resume table (docs/operations.md "After a daemon crash"). Every action it picks
// is idempotent, so resuming twice is the same as resuming once. No record → start.
Resume resume(const std::optional<JailRecord>& rec);

// True when a jail name is safe as a file name and in messages: [A-Za-z0-9_.-],
// 1..64 characters, not starting with '.' or '-'.
bool valid_jail_name(const std::string& name);

}  // namespace goodcop::supervisor
