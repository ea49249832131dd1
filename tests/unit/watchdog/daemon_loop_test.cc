// The supervisor's loop with fake drivers: the heal sequence, the on_tamper paths,
// evidence failure, backoff and crash loops, resume after a daemon crash, requests.
#include "tests/unit/watchdog/harness.h"

using namespace goodcop::test;

TEST_CASE("loop: a deviation is healed: freeze, evidence, kill, restore, start, verify",
          "[daemon][loop]") {
  Harness h;
  auto j = h.add("web1");
  h.sup->start();
  h.run_until([&] { return j->count("check") >= 2; });
  j->set_deviation(true);
  h.run_until([&] { return j->count("restore") == 1 && h.state("web1") == State::kRunning; });
  h.run_until([&] { return j->count("check") >= 4; });  // checks go on after the heal
  Strings calls = j->snapshot();
  auto first = std::find(calls.begin(), calls.end(), "freeze");
  REQUIRE(first != calls.end());
  CHECK(Strings(first, first + 6) ==
        Strings{"freeze", "evidence", "kill", "restore", "start", "check"});
  CHECK(h.story("web1") == Strings{"stopped>starting", "starting>running", "checking>tampered",
                                   "tampered>preserving", "preserving>restoring",
                                   "restoring>starting", "starting>running"});
  auto rec = h.store.load("web1");
  REQUIRE(rec);
  CHECK(rec->state == State::kRunning);
  CHECK_FALSE(rec->dirty);
  CHECK(rec->restarts == 1);
  CHECK(rec->evidence.rfind("/ev/web1-", 0) == 0);
  auto st = h.sup->status();
  REQUIRE(st.size() == 1);
  CHECK(st[0].last_incident == rec->evidence);
  CHECK(st[0].address == "198.18.0.2");
  CHECK(st[0].restarts == 1);
}

TEST_CASE("loop: the evidence event carries the bundle's path", "[daemon][loop]") {
  Harness h;
  auto j = h.add("web1");
  j->deviation = true;
  h.sup->start();
  h.run_until([&] { return j->count("restore") == 1; });
  std::string text = goodcop::read_file(h.tmp / "events.log");
  auto pos = text.find("\"to\":\"restoring\"");
  REQUIRE(pos != std::string::npos);
  auto line = text.substr(text.rfind('\n', pos) + 1);
  auto ev = nlohmann::json::parse(line.substr(0, line.find('\n')));
  CHECK(ev["reason"] == "evidence written");
  CHECK(ev["evidence"].get<std::string>().rfind("/ev/web1-", 0) == 0);
}

TEST_CASE("loop: on_tamper freeze keeps the jail frozen after evidence", "[daemon][loop]") {
  Harness h;
  auto j = h.add("web1", OnTamper::kFreeze);
  j->deviation = true;
  h.sup->start();
  h.run_until([&] { return h.state("web1") == State::kFrozen; });
  for (int i = 0; i < 20; ++i) h.io.run_one_for(milliseconds(5));  // stays frozen
  CHECK(h.state("web1") == State::kFrozen);
  CHECK(j->snapshot() == Strings{"start", "check", "freeze", "evidence"});
  // A responder thaws it: it is checked again at once and, still deviating, frozen again.
  j->set_deviation(false);
  CHECK(h.call(req(Verb::kThaw, "web1")).body["state"] == "running");
  h.run_until([&] { return j->count("check") == 2; });
}

TEST_CASE("loop: on_tamper alert writes evidence once and keeps the jail running",
          "[daemon][loop]") {
  Harness h;
  auto j = h.add("web1", OnTamper::kAlert);
  j->deviation = true;
  h.sup->start();
  h.run_until([&] { return j->count("check") >= 5; });
  CHECK(h.state("web1") != State::kFrozen);
  CHECK(j->count("evidence") == 1);  // the same deviation is reported once
  CHECK(j->count("thaw") == 1);
  CHECK(j->count("kill") == 0);
  CHECK(j->count("restore") == 0);
  // A different deviation is a new incident.
  {
    std::lock_guard<std::mutex> l(j->m);
    j->fingerprint = "fp2";
  }
  h.run_until([&] { return j->count("evidence") == 2; });
}

TEST_CASE("loop: evidence that cannot be written leaves the jail frozen, not nuked",
          "[daemon][loop]") {
  Harness h;
  auto j = h.add("web1");
  j->deviation = true;
  j->fail_evidence = true;
  h.sup->start();
  h.run_until([&] { return h.state("web1") == State::kFrozen; });
  CHECK(j->snapshot() == Strings{"start", "check", "freeze", "evidence"});
  auto ev = h.last_event("web1");
  CHECK(ev["from"] == "preserving");
  CHECK(ev["to"] == "frozen");
  CHECK(ev["reason"] ==
        "evidence failed: write '/ev': No space left on device, jail kept frozen, not restored");
  CHECK(h.store.load("web1")->dirty);
}

TEST_CASE("loop: a dead main process is restarted with backoff", "[daemon][loop]") {
  Harness h;
  auto j = h.add("web1");
  h.sup->start();
  h.run_until([&] { return h.state("web1") == State::kRunning; });
  j->die();
  h.run_until([&] { return j->count("start") == 2 && h.state("web1") == State::kRunning; });
  CHECK(h.story("web1") ==
        Strings{"stopped>starting", "starting>running", "running>starting", "starting>running"});
  CHECK(h.sup->status()[0].restarts == 1);
}

TEST_CASE("loop: a crash loop ends in failed, not a busy loop", "[daemon][loop]") {
  Harness h;
  auto j = h.add("web1");
  j->fail_starts = -1;
  h.sup->start();
  h.run_until([&] { return h.state("web1") == State::kFailed; });
  CHECK(j->count("start") == 4);  // max_failures
  for (int i = 0; i < 20; ++i) h.io.run_one_for(milliseconds(5));
  CHECK(j->count("start") == 4);  // and no more
  auto ev = h.last_event("web1");
  CHECK(ev["to"] == "failed");
  CHECK(ev["reason"] ==
        "start failed: exec '/sbin/init': No such file or directory, crash loop: 4 failures "
        "within 1m");
  // An operator restore gives it a fresh budget.
  {
    std::lock_guard<std::mutex> l(j->m);
    j->fail_starts = 0;
  }
  CHECK(h.call(req(Verb::kRestore, "web1")).body["state"] == "running");
  CHECK(h.state("web1") == State::kRunning);
}

TEST_CASE("loop: a restarted daemon resumes an interrupted heal from its state file",
          "[daemon][loop]") {
  // What a SIGKILL during each step of a heal leaves behind, and what must follow.
  struct Case {
    State state;
    Action action;
    Strings calls;
  };
  std::vector<Case> cases = {
      {State::kTampered,
       Action::kFreeze,
       {"freeze", "evidence", "kill", "restore", "start", "check"}},
      {State::kPreserving,
       Action::kWriteEvidence,
       {"freeze", "evidence", "kill", "restore", "start", "check"}},
      {State::kRestoring, Action::kKill, {"kill", "restore", "start", "check"}},
      {State::kRestoring, Action::kRestore, {"kill", "restore", "start", "check"}},
      {State::kStarting, Action::kStart, {"start", "check"}},
      {State::kRunning, Action::kNone, {"adopt", "check"}},
  };
  for (const Case& c : cases) {
    INFO(state_name(c.state) << "/" << action_name(c.action));
    Harness h;
    JailRecord r;
    r.jail = "web1";
    r.state = c.state;
    r.action = c.action;
    r.dirty = is_heal_state(c.state);
    h.store.save(r);
    auto j = h.add("web1");
    j->deviation = r.dirty;
    h.sup->start();
    h.run_until([&] { return j->count("check") >= 1 && h.state("web1") == State::kRunning; });
    CHECK(j->snapshot() == c.calls);
    CHECK_FALSE(h.store.load("web1")->dirty);
  }
}

TEST_CASE("loop: requests: check, freeze, thaw, maintain, unknown jails", "[daemon][loop]") {
  Harness h;
  auto j = h.add("web1");
  h.add("web2");
  h.sup->start();
  h.run_until([&] { return h.state("web1") == State::kRunning; });

  Response c = h.call(req(Verb::kCheck, "web1"));
  CHECK(c.ok);
  CHECK(c.body["result"] == "clean");

  Response f = h.call(req(Verb::kFreeze, "web1"));
  CHECK(f.body["state"] == "frozen");
  Response again = h.call(req(Verb::kFreeze, "web1"));
  CHECK_FALSE(again.ok);
  CHECK(again.exit_code == 3);
  CHECK(again.error == "jail 'web1' is in state 'frozen': cannot freeze");
  CHECK(h.call(req(Verb::kThaw, "web1")).body["state"] == "running");

  Request m = req(Verb::kMaintain, "web1");
  m.on = true;
  CHECK(h.call(m).body["state"] == "maintenance");
  auto rec = h.store.load("web1");
  CHECK(rec->state == State::kMaintenance);
  CHECK(rec->maintain_until_ms > 0);
  size_t checks = j->count("check");
  for (int i = 0; i < 20; ++i) h.io.run_one_for(milliseconds(5));
  CHECK(j->count("check") == checks);  // the watch is paused
  // Leaving maintenance checks at once: an unsealed change is healed like any other.
  j->set_deviation(true);
  m.on = false;
  h.call(m);
  h.run_until([&] { return j->count("restore") == 1; });

  m.on = true;
  m.duration = std::chrono::hours(48);
  Response too_long = h.call(m);
  CHECK(too_long.exit_code == 2);
  CHECK(too_long.error == "maintain: window 2d exceeds the maximum 1d");

  Response unknown = h.call(req(Verb::kCheck, "nope"));
  CHECK(unknown.error == "no jail 'nope'");
  Response st = h.call(req(Verb::kStatus));
  CHECK(st.body["jails"].size() == 2);
  CHECK(st.body["jails"][1]["jail"] == "web2");
}

TEST_CASE("loop: a deviation found by `goodcop check` is reported, then healed", "[daemon][loop]") {
  Harness h;
  auto j = h.add("web1");
  h.sup->start();
  h.run_until([&] { return h.state("web1") == State::kRunning; });
  j->set_deviation(true);
  Response c = h.call(req(Verb::kCheck, "web1"));
  // The periodic check may win the race; either way a check reports the deviation.
  if (c.ok && c.body["result"] == "deviation") CHECK(c.body["summary"] == "1 changed");
  h.run_until([&] { return j->count("restore") == 1; });
}

TEST_CASE("loop: stop_all stops every jail and persists it as stopped", "[daemon][loop]") {
  Harness h;
  auto a = h.add("a");
  auto b = h.add("b");
  h.sup->start();
  h.run_until([&] { return h.state("a") == State::kRunning && h.state("b") == State::kRunning; });
  bool done = false;
  h.sup->stop_all([&] { done = true; });
  h.run_until([&] { return done; });
  CHECK(a->count("stop") == 1);
  CHECK(b->count("stop") == 1);
  CHECK(h.store.load("a")->state == State::kStopped);
  Response r = h.call(req(Verb::kFreeze, "a"));
  CHECK(r.error == "the daemon is stopping");
}

TEST_CASE("loop: a stop during a heal lets the heal finish first", "[daemon][loop]") {
  Harness h;
  auto j = h.add("web1");
  j->deviation = true;
  j->hold_restore = true;
  h.sup->start();
  h.run_until([&] { return j->restoring(); });
  bool done = false;
  h.sup->stop_all([&] { done = true; });
  for (int i = 0; i < 10; ++i) h.io.run_one_for(milliseconds(2));
  CHECK_FALSE(done);  // the restore in flight is never cut short
  j->release_restore();
  h.run_until([&] { return done; });
  CHECK(j->snapshot() ==
        Strings{"start", "check", "freeze", "evidence", "kill", "restore", "start", "stop"});
  auto rec = h.store.load("web1");
  CHECK(rec->state == State::kStopped);
  CHECK_FALSE(rec->dirty);  // stopped with a golden tree: the next daemon just starts it
}
