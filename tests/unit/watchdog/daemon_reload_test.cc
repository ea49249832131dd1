// Reload (SIGHUP, `goodcop reload`): only what changed is restarted; removed jails stop
// and lose their state file; broken files keep their jails as they are; reloads queue.
#include "tests/unit/watchdog/harness.h"

using namespace goodcop::test;

namespace {

// The "reason" of every event of one jail, in order.
Strings reasons(Harness& h, const std::string& jail) {
  Strings out;
  std::string text = goodcop::read_file(h.tmp / "events.log");
  size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    auto j = nlohmann::json::parse(text.substr(pos, nl - pos));
    if (j["jail"] == jail) out.push_back(j["reason"].get<std::string>());
    pos = nl + 1;
  }
  return out;
}

bool all_running(Harness& h) {
  for (const auto& s : h.sup->status())
    if (s.state != State::kRunning && s.state != State::kChecking) return false;
  return true;
}

}  // namespace

TEST_CASE("reload: adds, restarts and removes what changed and leaves the rest alone",
          "[daemon][reload]") {
  Harness h;
  auto a = h.add("a");
  auto b = h.add("b");
  auto c = h.add("c");
  auto d = h.add("d");
  h.sup->start();
  h.run_until([&] { return all_running(h) && a->count("check") >= 1 && d->count("check") >= 1; });
  Strings story_a = h.story("a"), story_d = h.story("d");

  h.policies.erase("c");       // the file vanished
  h.fingerprints["b"] = "v2";  // the policy changed
  auto b2 = std::make_shared<FakeJail>();
  h.jails["b"] = b2;    // the new driver's jail
  auto e = h.add("e");  // a new file
  Response r = h.call(req(Verb::kReload));
  REQUIRE(r.ok);
  CHECK(r.body["result"] == "reloaded: 1 added, 1 restarted, 1 removed, 2 unchanged");
  CHECK(r.body["problems"].empty());
  h.run_until([&] {
    return h.sup->status().size() == 4 && all_running(h) && b2->count("check") >= 1 &&
           e->count("check") >= 1;
  });

  // Removed: stopped, gone from status, state file removed.
  CHECK(c->count("stop") == 1);
  CHECK(h.sup->find("c") == nullptr);
  CHECK_FALSE(h.store.load("c"));
  CHECK(reasons(h, "c").back() == "reload: policy removed");
  // Restarted: the old driver stopped (and only then the new one made and started).
  CHECK(b->count("stop") == 1);
  CHECK(b->count("start") == 1);
  CHECK(b2->snapshot().at(0) == "start");
  CHECK(h.drivers_made["b"] == 2);
  Strings rb = reasons(h, "b");
  REQUIRE(rb.size() >= 3);
  CHECK(Strings(rb.end() - 3, rb.end()) == Strings{"reload: policy changed, restarting",
                                                   "reload: started with the changed policy",
                                                   "started"});
  // Added: started like any jail.
  CHECK(reasons(h, "e").at(0) == "reload: policy added");
  CHECK(h.drivers_made["e"] == 1);
  // Unchanged: not touched at all (no restart, no event, no new driver).
  for (auto& [j, story] : {std::pair{a, story_a}, std::pair{d, story_d}}) {
    CHECK(j->count("stop") == 0);
    CHECK(j->count("start") == 1);
  }
  CHECK(h.story("a") == story_a);
  CHECK(h.story("d") == story_d);
  CHECK(h.drivers_made["a"] == 1);
}

TEST_CASE("reload: a broken policy file keeps its jail running with its old policy",
          "[daemon][reload]") {
  Harness h;
  auto a = h.add("a");
  auto b = h.add("b");
  h.sup->start();
  h.run_until([&] { return all_running(h); });
  Strings story_a = h.story("a");
  // a.yaml is broken now (the source yields no jail for it); b changed at the same time.
  h.policies.erase("a");
  h.broken = {"a.yaml"};
  h.problems = {"a.yaml:3:1: unknown key 'exec.strat' (did you mean 'exec.start'?)"};
  h.fingerprints["b"] = "v2";
  Response r = h.call(req(Verb::kReload));
  REQUIRE(r.ok);
  CHECK(r.body["result"] == "reloaded: 0 added, 1 restarted, 0 removed, 1 unchanged");
  CHECK(r.body["problems"] ==
        nlohmann::json{"a.yaml:3:1: unknown key 'exec.strat' (did you mean 'exec.start'?)"});
  h.run_until([&] { return all_running(h) && b->count("start") == 2; });
  CHECK(a->count("stop") == 0);
  CHECK(h.story("a") == story_a);
  CHECK(h.store.load("a"));
  // Fixed again with the same policy: still untouched.
  h.broken.clear();
  h.problems.clear();
  h.policies["a"] = h.policies["b"];
  h.policies["a"].name = "a";
  CHECK(h.call(req(Verb::kReload)).body["result"] ==
        "reloaded: 0 added, 0 restarted, 0 removed, 2 unchanged");
  CHECK(a->count("stop") == 0);
}

TEST_CASE("reload: a jail in the middle of a heal is restarted after the heal",
          "[daemon][reload]") {
  Harness h;
  auto a = h.add("a");
  auto b = h.add("b");
  a->deviation = true;
  a->hold_restore = true;
  h.sup->start();
  h.run_until([&] { return a->restoring(); });
  h.fingerprints["a"] = "v2";
  std::optional<Response> out;
  h.sup->handle(req(Verb::kReload), [&](Response r) { out = std::move(r); });
  for (int i = 0; i < 20; ++i) h.io.run_one_for(milliseconds(2));
  CHECK_FALSE(out);  // waits for the heal
  CHECK(h.call(req(Verb::kFreeze, "a")).error == "jail 'a' is being reloaded, try again");
  a->release_restore();
  h.run_until([&] { return out.has_value(); });
  CHECK(out->body["result"] == "reloaded: 0 added, 1 restarted, 0 removed, 1 unchanged");
  h.run_until([&] { return h.state("a") == State::kRunning; });
  Strings calls = a->snapshot();
  auto restore = std::find(calls.begin(), calls.end(), "restore");
  REQUIRE(restore != calls.end());
  CHECK(Strings(restore, restore + 3) == Strings{"restore", "start", "stop"});
  CHECK(calls.back() == "start");  // the new driver (same fake jail) starts a clean tree
  CHECK_FALSE(h.store.load("a")->dirty);
}

TEST_CASE("reload: two reloads in a row run one after the other", "[daemon][reload]") {
  Harness h;
  auto a = h.add("a");
  h.add("b");
  h.sup->start();
  h.run_until([&] { return all_running(h); });
  std::vector<std::string> results;
  h.fingerprints["a"] = "v2";
  h.sup->reload([&](const ReloadResult& r) { results.push_back(r.summary()); });
  // The second reload reads the policies only once the first is through.
  h.fingerprints["a"] = "v3";
  h.sup->reload([&](const ReloadResult& r) { results.push_back(r.summary()); });
  h.sup->reload([&](const ReloadResult& r) { results.push_back(r.summary()); });
  h.run_until([&] { return results.size() == 3; });
  CHECK(results == Strings{"reloaded: 0 added, 1 restarted, 0 removed, 1 unchanged",
                           "reloaded: 0 added, 1 restarted, 0 removed, 1 unchanged",
                           "reloaded: 0 added, 0 restarted, 0 removed, 2 unchanged"});
  CHECK(h.drivers_made["a"] == 3);
  CHECK(h.drivers_made["b"] == 1);
  h.run_until([&] { return all_running(h); });
}

TEST_CASE("reload: an unreadable directory changes nothing - a driver that fails is a problem",
          "[daemon][reload]") {
  Harness h;
  auto a = h.add("a");
  h.sup->start();
  h.run_until([&] { return all_running(h); });
  h.source_fails = true;
  h.policies.erase("a");
  Response r = h.call(req(Verb::kReload));
  CHECK_FALSE(r.ok);
  CHECK(r.exit_code == 3);
  CHECK(r.error == "reload: policy directory '/etc/goodcop/jails': Permission denied");
  CHECK(a->count("stop") == 0);  // not removed: nothing was read

  h.source_fails = false;
  h.add("a");  // back, unchanged
  h.jails["a"] = a;
  h.add("bad");
  h.driver_fails = {"bad"};
  h.duplicates = {"a"};
  r = h.call(req(Verb::kReload));
  REQUIRE(r.ok);
  CHECK(r.body["result"] == "reloaded: 0 added, 0 restarted, 0 removed, 1 unchanged");
  CHECK(r.body["problems"] ==
        nlohmann::json{"dup-a.yaml: jail 'a' is already defined in 'a.yaml', file ignored",
                       "bad.yaml: jail 'bad': golden '/golden/bad' is missing, not started"});
  CHECK(h.sup->find("bad") == nullptr);
  CHECK(a->count("stop") == 0);
}
