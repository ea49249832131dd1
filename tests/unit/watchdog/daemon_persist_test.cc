// Persisted state: atomic JSON records and the resume table of an interrupted heal.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "base/error.h"
#include "base/fd.h"
#include "tests/support/support.h"
#include "watchdog/daemon/persist.h"

using namespace goodcop::supervisor;
using goodcop::test::TempDir;

TEST_CASE("persist: a record round-trips through its JSON form", "[daemon][persist]") {
  JailRecord r;
  r.jail = "web1";
  r.state = State::kRestoring;
  r.action = Action::kRestore;
  r.dirty = true;
  r.incident = "web1-20261129T182001.123Z";
  r.evidence = "/var/lib/goodcop/evidence/web1-1.tar";
  r.restarts = 7;
  r.maintain_until_ms = 1796000000000;
  CHECK(parse_record(format_record(r), "x") == r);
}

TEST_CASE("persist: malformed records are errors that name the file", "[daemon][persist]") {
  auto msg = [](const std::string& text) {
    try {
      parse_record(text, "/s/web1.state");
    } catch (const goodcop::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(msg("") == "state file '/s/web1.state': not a JSON object");
  CHECK(msg("[1]") == "state file '/s/web1.state': not a JSON object");
  CHECK(msg(R"({"version":2})") == "state file '/s/web1.state': unsupported version 2");
  JailRecord r;
  r.jail = "web1";
  std::string good = format_record(r);
  std::string bad_state = good;
  bad_state.replace(bad_state.find("\"starting\""), 10, "\"dancing\"");
  CHECK(msg(bad_state) == "state file '/s/web1.state': unknown state 'dancing'");
  CHECK(msg(R"({"version":1,"jail":"web1"})") ==
        "state file '/s/web1.state': key 'state' not found");
}

TEST_CASE("persist: the store saves atomically, loads, lists and removes", "[daemon][persist]") {
  TempDir tmp;
  StateStore store(tmp / "state");
  struct stat st {};
  REQUIRE(::stat((tmp / "state").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);
  CHECK_FALSE(store.load("web1"));
  JailRecord r;
  r.jail = "web1";
  r.state = State::kPreserving;
  r.action = Action::kWriteEvidence;
  store.save(r);
  REQUIRE(::stat((tmp / "state/web1.state").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(store.load("web1") == r);
  r.state = State::kRestoring;
  store.save(r);  // replaces, never appends
  CHECK(store.load("web1")->state == State::kRestoring);
  JailRecord r2;
  r2.jail = "db";
  store.save(r2);
  goodcop::test::write_text(tmp / "state/junk.txt", "x");
  CHECK(store.list() == std::vector<std::string>{"db", "web1"});
  store.remove("web1");
  store.remove("web1");  // missing is fine
  CHECK(store.list() == std::vector<std::string>{"db"});
  // A record under another jail's name is refused, not silently adopted.
  goodcop::write_file_atomic(tmp / "state/evil.state", format_record(r2));
  CHECK_THROWS_WITH(store.load("evil"),
                    "state file '" + tmp / "state/evil.state" + "': names jail 'db'");
  CHECK_THROWS_WITH(store.load("../etc/passwd"), "invalid jail name '../etc/passwd'");
}

TEST_CASE("persist: the resume table finishes or rolls back an interrupted heal",
          "[daemon][persist]") {
  auto rec = [](State s, Action a, bool dirty = false) {
    JailRecord r;
    r.jail = "web1";
    r.state = s;
    r.action = a;
    r.dirty = dirty;
    return std::optional<JailRecord>(r);
  };
  struct Case {
    std::optional<JailRecord> rec;
    State state;
    Action action;
    std::string why;
  };
  std::vector<Case> table = {
      {std::nullopt, State::kStarting, Action::kStart, "no saved state: start"},
      {rec(State::kStarting, Action::kStart), State::kStarting, Action::kStart,
       "resumed: start from scratch"},
      {rec(State::kStarting, Action::kRestart), State::kStarting, Action::kStart,
       "resumed: start from scratch"},
      {rec(State::kRunning, Action::kNone), State::kStarting, Action::kAdopt,
       "resumed: adopt the running jail"},
      {rec(State::kChecking, Action::kCheck), State::kStarting, Action::kAdopt,
       "resumed: adopt the running jail"},
      {rec(State::kTampered, Action::kFreeze, true), State::kTampered, Action::kFreeze,
       "resumed: freeze, then write evidence"},
      {rec(State::kPreserving, Action::kWriteEvidence, true), State::kTampered, Action::kFreeze,
       "resumed: redo evidence"},
      {rec(State::kRestoring, Action::kKill, true), State::kRestoring, Action::kKill,
       "resumed: redo restore from scratch"},
      {rec(State::kRestoring, Action::kRestore, true), State::kRestoring, Action::kKill,
       "resumed: redo restore from scratch"},
      {rec(State::kStarting, Action::kStart, true), State::kRestoring, Action::kKill,
       "resumed: restore before start"},
      {rec(State::kFrozen, Action::kNone, true), State::kFrozen, Action::kFreeze,
       "resumed: keep frozen"},
      {rec(State::kMaintenance, Action::kNone), State::kMaintenance, Action::kAdopt,
       "resumed: maintenance goes on"},
      {rec(State::kFailed, Action::kNone), State::kFailed, Action::kNone, "resumed: still failed"},
      {rec(State::kStopped, Action::kStop), State::kStarting, Action::kStart, "resumed: start"},
      {rec(State::kStopped, Action::kStop, true), State::kRestoring, Action::kKill,
       "resumed: restore before start (stopped dirty)"},
  };
  for (const Case& c : table) {
    INFO((c.rec ? std::string(state_name(c.rec->state)) + "/" +
                      std::string(action_name(c.rec->action)) + (c.rec->dirty ? " dirty" : "")
                : std::string("none")));
    Resume r = resume(c.rec);
    CHECK(r.state == c.state);
    CHECK(r.action == c.action);
    CHECK(std::string(r.why) == c.why);
  }
  // No resume ever destroys a jail whose evidence is not yet written.
  for (State s : {State::kTampered, State::kPreserving}) {
    Resume r = resume(rec(s, Action::kNone, true));
    CHECK(r.action != Action::kKill);
    CHECK(r.action != Action::kRestore);
  }
}

TEST_CASE("persist: jail names are safe file names", "[daemon][persist]") {
  for (const char* ok : {"web1", "db_2", "a.b-c", "X"}) CHECK(valid_jail_name(ok));
  for (const char* bad : {"", ".", "..", ".hidden", "-rf", "a/b", "a b", "é"})
    CHECK_FALSE(valid_jail_name(bad));
  CHECK(valid_jail_name(std::string(64, 'a')));
  CHECK_FALSE(valid_jail_name(std::string(65, 'a')));
}
