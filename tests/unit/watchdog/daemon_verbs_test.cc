// snapshot, seal and rollback over the fake driver: what each calls, in which states it
// is refused, its one event, failures, and the upgrade story end to end.
#include "tests/unit/watchdog/harness.h"

using namespace goodcop::test;

namespace {

bool running(Harness& h, const std::string& jail) {
  State s = h.state(jail);
  return s == State::kRunning || s == State::kChecking;
}

// Calls made after the first `skip` ones, without the periodic checks.
Strings calls_after(FakeJail& j, size_t skip) {
  Strings all = j.snapshot(), out;
  for (size_t i = skip; i < all.size(); ++i)
    if (all[i] != "check") out.push_back(all[i]);
  return out;
}

}  // namespace

TEST_CASE("snapshot: freeze, evidence, thaw - one event - the reply is the bundle",
          "[daemon][snapshot]") {
  Harness h;
  auto j = h.add("web1");
  h.sup->start();
  h.run_until([&] { return running(h, "web1"); });
  size_t before = j->snapshot().size();
  size_t events = h.story("web1").size();
  Response r = h.call(req(Verb::kSnapshot, "web1"));
  REQUIRE(r.ok);
  std::string path = r.body["evidence"];
  CHECK(path.rfind("/ev/web1-", 0) == 0);
  CHECK(path.size() > 13);
  CHECK(path.substr(path.size() - 13) == "-snapshot.tar");
  CHECK(calls_after(*j, before) == Strings{"freeze", "evidence", "thaw"});
  CHECK(j->last_incident_kind == "snapshot");
  REQUIRE(h.story("web1").size() == events + 1);
  auto ev = h.last_event("web1");
  CHECK(ev["from"] == "running");
  CHECK(ev["to"] == "running");
  CHECK(ev["reason"] == "snapshot written");
  CHECK(ev["evidence"] == path);
  CHECK(running(h, "web1"));
  CHECK_FALSE(h.store.load("web1")->snapshot);
  CHECK(h.sup->status()[0].last_incident.empty());  // a snapshot is not an incident
}

TEST_CASE("snapshot: a frozen jail stays frozen - evidence failure thaws back and says so",
          "[daemon][snapshot]") {
  Harness h;
  auto j = h.add("web1");
  auto f = h.add("web2");
  f->fail_starts = -1;
  h.sup->start();
  h.run_until([&] { return running(h, "web1") && h.state("web2") == State::kFailed; });
  CHECK(h.call(req(Verb::kSnapshot, "web2")).error ==
        "jail 'web2' is in state 'failed': cannot snapshot");

  CHECK(h.call(req(Verb::kFreeze, "web1")).ok);
  size_t before = j->snapshot().size();
  CHECK(h.call(req(Verb::kSnapshot, "web1")).ok);
  CHECK(calls_after(*j, before) == Strings{"evidence"});
  CHECK(h.state("web1") == State::kFrozen);
  CHECK(h.call(req(Verb::kThaw, "web1")).ok);

  j->fail_evidence = true;
  before = j->snapshot().size();
  Response r = h.call(req(Verb::kSnapshot, "web1"));
  CHECK(r.exit_code == 3);
  CHECK(r.error == "jail 'web1': snapshot: write '/ev': No space left on device, jail thawed");
  CHECK(calls_after(*j, before) == Strings{"freeze", "evidence", "thaw"});
  CHECK(h.last_event("web1")["reason"] ==
        "snapshot failed: write '/ev': No space left on device, jail thawed");
  CHECK(running(h, "web1"));
  CHECK(h.sup->status()[0].evidence_failures == 1);
}

TEST_CASE("snapshot: a daemon that died during a snapshot thaws the jail it adopts",
          "[daemon][snapshot]") {
  Harness h;
  JailRecord rec;
  rec.jail = "web1";
  rec.state = State::kRunning;
  rec.snapshot = true;
  h.store.save(rec);
  auto j = h.add("web1");
  h.sup->start();
  h.run_until([&] { return j->count("check") >= 1; });
  Strings calls = j->snapshot();
  REQUIRE(calls.size() >= 3);
  CHECK(Strings(calls.begin(), calls.begin() + 3) == Strings{"adopt", "thaw", "check"});
  CHECK_FALSE(h.store.load("web1")->snapshot);
}

TEST_CASE("seal: in running and maintenance only - one event - the reply is the driver's line",
          "[daemon][seal]") {
  Harness h;
  auto j = h.add("web1");
  h.sup->start();
  h.run_until([&] { return running(h, "web1"); });
  Response r = h.call(req(Verb::kSeal, "web1"));
  REQUIRE(r.ok);
  CHECK(r.body["result"] == "golden version 2 sealed");
  auto ev = h.last_event("web1");
  CHECK(ev["from"] == "running");
  CHECK(ev["to"] == "running");
  CHECK(ev["reason"] == "sealed: golden version 2 sealed");

  CHECK(h.call(req(Verb::kFreeze, "web1")).ok);
  CHECK(h.call(req(Verb::kSeal, "web1")).error == "jail 'web1' is in state 'frozen': cannot seal");
  CHECK(h.call(req(Verb::kThaw, "web1")).ok);
  j->fail_seal = true;
  Response bad = h.call(req(Verb::kSeal, "web1"));
  CHECK(bad.exit_code == 3);
  CHECK(bad.error == "jail 'web1': seal: write '/golden/2.tar.zst': Disk quota exceeded");
  CHECK(running(h, "web1"));
}

TEST_CASE("seal: the upgrade story: maintain on, exec, seal, maintain off, no heal",
          "[daemon][seal]") {
  Harness h;
  auto j = h.add("web1");
  h.sup->start();
  h.run_until([&] { return running(h, "web1"); });
  Request m = req(Verb::kMaintain, "web1");
  m.on = true;
  CHECK(h.call(m).body["state"] == "maintenance");
  // The upgrade inside the jail changes its tree.
  {
    auto io = std::make_shared<std::vector<goodcop::UniqueFd>>();
    for (int i = 0; i < 3; ++i) io->push_back(goodcop::open_fd("/dev/null", O_RDWR | O_CLOEXEC));
    Request e = req(Verb::kExec, "web1");
    e.argv = {"apt-get", "upgrade"};
    e.fds = io;
    CHECK(h.call(e).body["status"] == 0);
  }
  j->set_deviation(true);
  Response s = h.call(req(Verb::kSeal, "web1"));
  CHECK(s.body["result"] == "golden version 2 sealed");
  CHECK(h.state("web1") == State::kMaintenance);
  m.on = false;
  h.call(m);
  size_t checks = j->count("check");
  h.run_until([&] { return j->count("check") >= checks + 2 && running(h, "web1"); });
  CHECK(j->count("restore") == 0);  // the sealed upgrade is the new golden: nothing to heal
  CHECK(j->count("evidence") == 0);
  CHECK(h.story("web1") == Strings{"stopped>starting", "starting>running", "running>maintenance",
                                   "maintenance>maintenance", "maintenance>checking"});
}

TEST_CASE("rollback: select the version, then kill, restore, start - one event names it",
          "[daemon][rollback]") {
  Harness h;
  auto j = h.add("web1");
  h.sup->start();
  h.run_until([&] { return running(h, "web1"); });
  Response none = h.call(req(Verb::kRollback, "web1"));
  CHECK(none.exit_code == 3);
  CHECK(none.error == "jail 'web1': rollback: no golden version '0'");
  CHECK(j->count("kill") == 0);  // nothing was touched

  CHECK(h.call(req(Verb::kSeal, "web1")).ok);
  size_t before = j->snapshot().size();
  Response r = h.call(req(Verb::kRollback, "web1"));
  REQUIRE(r.ok);
  CHECK(r.body["state"] == "running");
  CHECK(r.body["result"] == "golden version 1 is current");
  CHECK(calls_after(*j, before) == Strings{"select previous", "kill", "restore", "start"});
  Strings story = h.story("web1");
  CHECK(Strings(story.end() - 3, story.end()) ==
        Strings{"running>restoring", "restoring>starting", "starting>running"});
  std::string text = goodcop::read_file(h.tmp / "events.log");
  CHECK(text.find("\"reason\":\"rollback by operator: golden version 1 is current\"") !=
        std::string::npos);

  Request v = req(Verb::kRollback, "web1");
  v.version = "9";
  CHECK(h.call(v).error == "jail 'web1': rollback: no golden version '9'");
  v.version = "2";
  CHECK(h.call(v).body["result"] == "golden version 2 is current");
}
