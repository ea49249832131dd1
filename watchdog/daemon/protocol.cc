#include "watchdog/daemon/protocol.h"

#include <array>

#include "base/parse.h"
#include "watchdog/daemon/persist.h"

namespace goodcop::supervisor {
namespace {

constexpr std::array<std::string_view, 11> kVerbNames = {
    "status", "check",    "snapshot", "freeze",   "thaw",  "restore",
    "exec",   "maintain", "seal",     "rollback", "reload"};

bool needs_jail(Verb v) { return v != Verb::kStatus && v != Verb::kReload; }

// Reads an optional string member; sets err when present with another type.
bool get_string(const nlohmann::json& j, const char* key, std::string& out, std::string& err) {
  auto it = j.find(key);
  if (it == j.end()) return false;
  if (!it->is_string()) {
    err = std::string("'") + key + "' must be a string";
    return false;
  }
  out = it->get<std::string>();
  return true;
}

}  // namespace

std::string_view verb_name(Verb v) { return kVerbNames.at(static_cast<size_t>(v)); }

ParsedRequest parse_request(std::string_view line) {
  ParsedRequest p;
  auto fail = [&](std::string why) {
    p.error = std::move(why);
    return p;
  };
  if (line.size() > kMaxRequestBytes) return fail("request too large");
  nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
  if (j.is_discarded()) return fail("malformed request: not JSON");
  if (!j.is_object()) return fail("malformed request: not a JSON object");
  static constexpr std::array<std::string_view, 6> kKeys = {"verb", "jail", "on",
                                                            "for",  "argv", "version"};
  for (const auto& [key, value] : j.items()) {
    bool known = false;
    for (auto k : kKeys) known = known || k == key;
    if (!known) return fail("malformed request: unknown key '" + key + "'");
  }
  std::string verb, err;
  if (!get_string(j, "verb", verb, err))
    return fail("malformed request: " + (err.empty() ? "no 'verb'" : err));
  bool found = false;
  for (size_t i = 0; i < kVerbNames.size(); ++i) {
    if (kVerbNames[i] == verb) {
      p.request.verb = static_cast<Verb>(i);
      found = true;
    }
  }
  if (!found) return fail("unknown verb '" + verb + "'");
  Request& r = p.request;
  bool has_jail = get_string(j, "jail", r.jail, err);
  if (!err.empty()) return fail("malformed request: " + err);
  if (needs_jail(r.verb)) {
    if (!has_jail) return fail(verb + ": no jail given");
    if (!valid_jail_name(r.jail)) return fail("invalid jail name '" + r.jail + "'");
  } else if (has_jail) {
    return fail(verb + ": takes no jail");
  }
  if (r.verb == Verb::kMaintain) {
    auto on = j.find("on");
    if (on == j.end() || !on->is_boolean()) return fail("maintain: 'on' must be true or false");
    r.on = on->get<bool>();
    std::string dur;
    if (get_string(j, "for", dur, err)) {
      auto d = parse_duration(dur);
      if (!d) return fail("maintain: 'for': " + d.error);
      if (d.value.count() <= 0) return fail("maintain: 'for' must be positive");
      r.duration = d.value;
    }
    if (!err.empty()) return fail("malformed request: " + err);
  }
  if (r.verb == Verb::kExec) {
    auto a = j.find("argv");
    if (a == j.end() || !a->is_array() || a->empty())
      return fail("exec: 'argv' must be a non-empty list");
    if (a->size() > kMaxArgs) return fail("exec: too many arguments");
    for (const auto& s : *a) {
      if (!s.is_string()) return fail("exec: 'argv' must hold strings");
      r.argv.push_back(s.get<std::string>());
    }
  }
  if (r.verb == Verb::kRollback) {
    get_string(j, "version", r.version, err);
    if (!err.empty()) return fail("malformed request: " + err);
  }
  return p;
}

std::string format_request(const Request& r) {
  nlohmann::json j = {{"verb", verb_name(r.verb)}};
  if (needs_jail(r.verb)) j["jail"] = r.jail;
  if (r.verb == Verb::kMaintain) {
    j["on"] = r.on;
    if (r.duration.count() > 0) j["for"] = format_duration(r.duration);
  }
  if (r.verb == Verb::kExec) j["argv"] = r.argv;
  if (r.verb == Verb::kRollback && !r.version.empty()) j["version"] = r.version;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Response Response::success(nlohmann::json body) {
  Response r;
  r.body = std::move(body);
  return r;
}

Response Response::failure(int exit_code, std::string error) {
  Response r;
  r.ok = false;
  r.exit_code = exit_code;
  r.error = std::move(error);
  return r;
}

std::string format_response(const Response& r) {
  nlohmann::json j = nlohmann::json::object();
  if (r.ok) {
    if (r.body.is_object()) j = r.body;
    j["ok"] = true;
  } else {
    j["ok"] = false;
    j["exit"] = r.exit_code;
    j["error"] = r.error;
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Response parse_response(std::string_view line) {
  nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("ok") || !j["ok"].is_boolean())
    return Response::failure(3, "malformed response from the daemon");
  if (j["ok"].get<bool>()) {
    j.erase("ok");
    return Response::success(std::move(j));
  }
  int code = 3;
  if (j.contains("exit") && j["exit"].is_number_integer()) code = j["exit"].get<int>();
  if (code < 1 || code > 125) code = 3;
  std::string err = "unknown error";
  if (j.contains("error") && j["error"].is_string()) err = j["error"].get<std::string>();
  return Response::failure(code, std::move(err));
}

}  // namespace goodcop::supervisor
