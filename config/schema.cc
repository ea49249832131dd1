// The one schema table of a policy: key -> parser -> field. Adding a key is one row
// here, one line in docs/policy.md and one test.
#include "config/schema.h"

#include <algorithm>
#include <functional>
#include <initializer_list>

#include "base/parse.h"
#include "config/values.h"

namespace goodcop::config {
namespace {

using std::chrono::milliseconds;

// The state of one walk: where diagnostics go and which key is being parsed.
struct Ctx {
  const std::string& file;
  std::vector<Diag>& diags;
  Policy& p;
  std::string key;

  void error(Location at, const std::string& msg) { diags.push_back({file, at, key + ": " + msg}); }
  void mark(const YNode& n, const std::string& k) { p.locations[k] = n.at; }
};

std::string pos(Location at) { return std::to_string(at.line) + ":" + std::to_string(at.column); }

std::string got_kind(const YNode& n) { return ", got " + std::string(kind_name(n)); }

// Any scalar, quoted or not: strings are what most keys hold.
const std::string* scalar(Ctx& c, const YNode& n, std::string_view expected = "a string") {
  if (n.kind == YNode::Kind::scalar) return &n.value;
  c.error(n.at, "expected " + std::string(expected) + got_kind(n));
  return nullptr;
}

// A scalar run through a value check.
std::optional<std::string> checked(Ctx& c, const YNode& n, std::string (*check)(std::string_view),
                                   std::string_view expected = "a string") {
  const std::string* s = scalar(c, n, expected);
  if (!s) return std::nullopt;
  std::string err = check(*s);
  if (!err.empty()) {
    c.error(n.at, err);
    return std::nullopt;
  }
  return *s;
}

// An absolute path other than "/" (a jail root, an evidence or golden directory).
std::string check_dir(std::string_view s) {
  std::string err = check_path(s);
  if (err.empty() && s == "/") return "must not be '/'";
  return err;
}

// Numbers and booleans must be plain YAML scalars: "20" in quotes is a string.
const std::string* plain(Ctx& c, const YNode& n, const std::string& expected) {
  if (n.kind == YNode::Kind::scalar && !n.quoted) return &n.value;
  if (n.kind == YNode::Kind::scalar)
    c.error(n.at, "expected " + expected + " without quotes, got '\"" + n.value + "\"'");
  else
    c.error(n.at, "expected " + expected + got_kind(n));
  return nullptr;
}

void set_bool(Ctx& c, const YNode& n, bool& out) {
  const std::string* s = plain(c, n, "true or false");
  if (!s) return;
  // YAML 1.1's yes/no/on/off are refused: "on_tamper: no" must not mean false by accident.
  if (*s == "true")
    out = true;
  else if (*s == "false")
    out = false;
  else
    c.error(n.at, "expected true or false, got '" + *s + "'");
}

template <typename T>
void set_uint(Ctx& c, const YNode& n, uint64_t min, uint64_t max, T& out) {
  const std::string* s = plain(c, n, "an integer");
  if (!s) return;
  auto v = parse_uint(*s, min, max);
  if (!v) return c.error(n.at, v.error + ", got '" + *s + "'");
  out = static_cast<T>(v.value);
}

void set_duration(Ctx& c, const YNode& n, milliseconds min, milliseconds max, milliseconds& out) {
  const std::string* s = scalar(c, n, "a duration");
  if (!s) return;
  auto v = parse_duration(*s);
  if (!v) return c.error(n.at, v.error + ", got '" + *s + "'");
  if (v.value < min || v.value > max)
    return c.error(n.at, "expected a duration from " + format_duration(min) + " to " +
                             format_duration(max) + ", got '" + *s + "'");
  out = v.value;
}

void set_size(Ctx& c, const YNode& n, uint64_t min, std::optional<uint64_t>& out) {
  const std::string* s = scalar(c, n, "a size");
  if (!s) return;
  auto v = parse_size(*s);
  if (!v) return c.error(n.at, v.error + ", got '" + *s + "'");
  if (v.value < min)
    return c.error(n.at, "expected at least " + format_size(min) + ", got '" + *s + "'");
  out = v.value;
}

template <typename E>
void set_enum(Ctx& c, const YNode& n, std::initializer_list<std::pair<std::string_view, E>> values,
              E& out) {
  std::vector<std::string_view> names;
  std::string list;
  for (const auto& [name, e] : values) {
    names.push_back(name);
    if (!list.empty()) list += names.size() == values.size() ? " or " : ", ";
    list += name;
  }
  const std::string* s = scalar(c, n, list);
  if (!s) return;
  for (const auto& [name, e] : values) {
    if (*s == name) {
      out = e;
      return;
    }
  }
  c.error(n.at, "expected " + list + ", got '" + *s + "'" + did_you_mean(*s, names));
}

// A list; a single scalar counts as a list of one where `scalar_ok`.
std::vector<const YNode*> list(Ctx& c, const YNode& n, bool scalar_ok, const char* what) {
  std::vector<const YNode*> out;
  if (n.kind == YNode::Kind::scalar && scalar_ok) {
    out.push_back(&n);
  } else if (n.kind != YNode::Kind::seq) {
    c.error(n.at, std::string("expected a list of ") + what + got_kind(n));
  } else if (n.items.empty()) {
    c.error(n.at, std::string("expected a list of ") + what + ", got an empty list");
  } else {
    for (const YNode& i : n.items) out.push_back(&i);
  }
  return out;
}

std::string item(const std::string& key, size_t i) { return key + "[" + std::to_string(i) + "]"; }

void set_addresses(Ctx& c, const YNode& n, bool v6, std::vector<Address>& out) {
  auto items = list(c, n, true, v6 ? "IPv6 addresses" : "IPv4 addresses");
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string* s = scalar(c, *items[i], "an address");
    if (!s) continue;
    Address a;
    std::string err = parse_address(*s, v6, a);
    if (!err.empty()) {
      c.error(items[i]->at, err);
      continue;
    }
    c.mark(*items[i], item(c.key, out.size()));
    out.push_back(a);
  }
}

void set_argv(Ctx& c, const YNode& n, std::vector<std::string>& out) {
  if (n.kind == YNode::Kind::scalar)
    return c.error(n.at,
                   "expected a list of arguments such as [/usr/sbin/nginx, -g, "
                   "'daemon off;'], got a string");
  auto items = list(c, n, false, "arguments");
  std::vector<std::string> argv;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string* s = scalar(c, *items[i], "a string");
    if (!s) return;
    if (s->empty()) return c.error(items[i]->at, "argument " + std::to_string(i) + " is empty");
    if (i == 0 && (*s)[0] != '/')
      return c.error(items[i]->at, "expected the program as an absolute path, got '" + *s + "'");
    if (i == 0) {
      std::string err = check_path(*s);
      if (!err.empty()) return c.error(items[i]->at, err);
    }
    argv.push_back(*s);
  }
  if (!items.empty()) out = std::move(argv);
}

void set_paths(Ctx& c, const YNode& n, std::vector<std::string>& out) {
  auto items = list(c, n, true, "absolute paths");
  for (const YNode* i : items) {
    auto s = checked(c, *i, check_dir, "an absolute path");
    if (!s) continue;
    c.mark(*i, item(c.key, out.size()));
    out.push_back(*s);
  }
}

void set_globs(Ctx& c, const YNode& n, std::vector<std::string>& out) {
  for (const YNode* i : list(c, n, true, "glob patterns")) {
    const std::string* s = scalar(c, *i, "a glob pattern");
    if (!s) continue;
    std::string g;
    std::string err = parse_glob(*s, g);
    if (!err.empty()) {
      c.error(i->at, err);
      continue;
    }
    out.push_back(std::move(g));
  }
}

void set_caps(Ctx& c, const YNode& n, std::vector<std::string>& out) {
  for (const YNode* i : list(c, n, true, "capabilities")) {
    auto s = checked(c, *i, check_capability, "a capability name");
    if (!s) continue;
    if (std::find(out.begin(), out.end(), *s) != out.end()) {
      c.error(i->at, "capability '" + *s + "' is listed twice");
      continue;
    }
    out.push_back(*s);
  }
}

void set_env(Ctx& c, const YNode& n, std::vector<std::pair<std::string, std::string>>& out) {
  if (n.kind != YNode::Kind::map)
    return c.error(n.at, "expected a mapping of NAME: value" + got_kind(n));
  std::map<std::string, Location> seen;
  for (const auto& [k, v] : n.pairs) {
    std::string err = check_env_name(k.value);
    if (!err.empty()) {
      c.error(k.at, err);
      continue;
    }
    auto [it, fresh] = seen.emplace(k.value, k.at);
    if (!fresh) {
      c.error(k.at, "duplicate variable '" + k.value + "' (first at " + pos(it->second) + ")");
      continue;
    }
    if (v.kind != YNode::Kind::scalar) {
      c.error(v.at, "expected a string value for '" + k.value + "'" + got_kind(v));
      continue;
    }
    out.emplace_back(k.value, v.value);
  }
}

void set_mounts(Ctx& c, const YNode& n, std::vector<Mount>& out) {
  static const std::vector<std::string_view> fields = {"source", "target", "mode"};
  auto items = list(c, n, false, "mounts");
  for (size_t idx = 0; idx < items.size(); ++idx) {
    const YNode& m = *items[idx];
    if (m.kind != YNode::Kind::map) {
      c.error(m.at, "expected a mapping with source, target and mode" + got_kind(m));
      continue;
    }
    Mount mount;
    std::map<std::string, Location> have;
    bool bad = false;
    std::string base = item(c.key, idx);
    // Problems with the entry's keys read like those of top-level keys, named in full.
    auto raw = [&](Location at, std::string msg) {
      c.diags.push_back({c.file, at, std::move(msg)});
    };
    for (const auto& [k, v] : m.pairs) {
      if (auto [it, fresh] = have.emplace(k.value, k.at); !fresh) {
        raw(k.at,
            "duplicate key '" + base + "." + k.value + "' (first at " + pos(it->second) + ")");
        bad = true;
        continue;
      }
      Ctx sub{c.file, c.diags, c.p, base + "." + k.value};
      size_t before = c.diags.size();
      if (k.value == "source") {
        if (auto s = checked(sub, v, check_path, "an absolute path")) mount.source = *s;
      } else if (k.value == "target") {
        if (auto s = checked(sub, v, check_dir, "an absolute path")) mount.target = *s;
      } else if (k.value == "mode") {
        set_enum(sub, v, {{"ro", MountMode::ro}, {"rw", MountMode::rw}}, mount.mode);
      } else {
        std::string near = suggest(k.value, fields);
        raw(k.at, "unknown key '" + base + "." + k.value + "'" +
                      (near.empty() ? "" : " (did you mean '" + base + "." + near + "'?)"));
      }
      if (c.diags.size() != before)
        bad = true;
      else
        c.mark(v, sub.key);
    }
    for (const char* f : {"source", "target"}) {
      if (!have.count(f)) {
        raw(m.at, "missing key '" + base + "." + f + "'");
        bad = true;
      }
    }
    if (!bad) out.push_back(std::move(mount));
  }
}

void set_description(Ctx& c, const YNode& n, std::string& out) {
  const std::string* s = scalar(c, n);
  if (!s) return;
  if (s->size() > 200 || s->find('\n') != std::string::npos)
    return c.error(n.at, "expected one line of at most 200 characters");
  out = *s;
}

// One row per key. The parser reports through the context and leaves the field alone
// on error, so one bad value never hides the next.
struct KeyRow {
  std::string_view key;
  std::function<void(Ctx&, const YNode&, Policy&)> parse;
};

const std::vector<KeyRow>& table() {
  using ms = milliseconds;
  auto opt_str = [](std::string (*check)(std::string_view), std::string Policy::*field) {
    return [check, field](Ctx& c, const YNode& n, Policy& p) {
      if (auto s = checked(c, n, check)) p.*field = *s;
    };
  };
  static const std::vector<KeyRow> rows = {
      {"name", opt_str(check_name, &Policy::name)},
      {"description",
       [](Ctx& c, const YNode& n, Policy& p) { set_description(c, n, p.description); }},
      {"path", opt_str(check_dir, &Policy::path)},
      {"hostname", opt_str(check_hostname, &Policy::hostname)},
      {"ip4", [](Ctx& c, const YNode& n, Policy& p) { set_addresses(c, n, false, p.ip4); }},
      {"ip6", [](Ctx& c, const YNode& n, Policy& p) { set_addresses(c, n, true, p.ip6); }},
      {"network",
       [](Ctx& c, const YNode& n, Policy& p) {
         set_enum(c, n, {{"none", Network::none}, {"veth", Network::veth}, {"host", Network::host}},
                  p.network);
       }},
      {"exec.start", [](Ctx& c, const YNode& n, Policy& p) { set_argv(c, n, p.exec.start); }},
      {"exec.stop", [](Ctx& c, const YNode& n, Policy& p) { set_argv(c, n, p.exec.stop); }},
      {"exec.user",
       [](Ctx& c, const YNode& n, Policy& p) {
         const std::string* s = scalar(c, n, "a user name or uid");
         if (!s) return;
         std::string err = parse_user(*s, p.exec.user);
         if (!err.empty()) c.error(n.at, err);
       }},
      {"exec.env", [](Ctx& c, const YNode& n, Policy& p) { set_env(c, n, p.exec.env); }},
      {"exec.cwd",
       [](Ctx& c, const YNode& n, Policy& p) {
         if (auto s = checked(c, n, check_path, "an absolute path")) p.exec.cwd = *s;
       }},
      {"exec.init",
       [](Ctx& c, const YNode& n, Policy& p) {
         set_enum(c, n, {{"goodcop", Init::goodcop}, {"jail", Init::jail}}, p.exec.init);
       }},
      {"stop.timeout",
       [](Ctx& c, const YNode& n, Policy& p) {
         set_duration(c, n, ms(1'000), ms(600'000), p.stop_timeout);
       }},
      {"golden", opt_str(check_dir, &Policy::golden)},
      {"storage",
       [](Ctx& c, const YNode& n, Policy& p) {
         set_enum(c, n, {{"overlay", Storage::overlay}, {"plain", Storage::plain}}, p.storage);
       }},
      {"watch.interval",
       [](Ctx& c, const YNode& n, Policy& p) {
         set_duration(c, n, ms(1'000), ms(3'600'000), p.watch.interval);
       }},
      {"watch.full_every",
       [](Ctx& c, const YNode& n, Policy& p) {
         set_duration(c, n, ms(60'000), ms(7 * 86'400'000), p.watch.full_every);
       }},
      {"watch.ignore", [](Ctx& c, const YNode& n, Policy& p) { set_globs(c, n, p.watch.ignore); }},
      {"watch.triggers",
       [](Ctx& c, const YNode& n, Policy& p) { set_bool(c, n, p.watch.triggers); }},
      {"keep", [](Ctx& c, const YNode& n, Policy& p) { set_paths(c, n, p.keep); }},
      {"mounts", [](Ctx& c, const YNode& n, Policy& p) { set_mounts(c, n, p.mounts); }},
      {"limits.memory",
       [](Ctx& c, const YNode& n, Policy& p) { set_size(c, n, 4u << 20, p.limits.memory); }},
      {"limits.pids",
       [](Ctx& c, const YNode& n, Policy& p) {
         uint32_t v = 0;
         size_t before = c.diags.size();
         set_uint(c, n, 1, 4'194'304, v);
         if (c.diags.size() == before) p.limits.pids = v;
       }},
      {"limits.cpu",
       [](Ctx& c, const YNode& n, Policy& p) {
         const std::string* s = plain(c, n, "a number of CPUs");
         if (!s) return;
         uint32_t milli = 0;
         std::string err = parse_cpu(*s, milli);
         if (!err.empty()) return c.error(n.at, err);
         p.limits.cpu_milli = milli;
       }},
      {"limits.disk",
       [](Ctx& c, const YNode& n, Policy& p) { set_size(c, n, 1u << 20, p.limits.disk); }},
      {"userns", [](Ctx& c, const YNode& n, Policy& p) { set_bool(c, n, p.userns); }},
      {"capabilities", [](Ctx& c, const YNode& n, Policy& p) { set_caps(c, n, p.capabilities); }},
      {"on_tamper",
       [](Ctx& c, const YNode& n, Policy& p) {
         set_enum(
             c, n,
             {{"heal", OnTamper::heal}, {"freeze", OnTamper::freeze}, {"alert", OnTamper::alert}},
             p.on_tamper);
       }},
      {"evidence.dir",
       [](Ctx& c, const YNode& n, Policy& p) {
         if (auto s = checked(c, n, check_dir, "an absolute path")) p.evidence.dir = *s;
       }},
      {"evidence.keep",
       [](Ctx& c, const YNode& n, Policy& p) { set_uint(c, n, 1, 10'000, p.evidence.keep); }},
      {"evidence.sign_key",
       [](Ctx& c, const YNode& n, Policy& p) {
         if (auto s = checked(c, n, check_dir, "an absolute path")) p.evidence.sign_key = *s;
       }},
      {"restart.backoff",
       [](Ctx& c, const YNode& n, Policy& p) {
         set_duration(c, n, ms(1'000), ms(3'600'000), p.restart.backoff);
       }},
      {"restart.max",
       [](Ctx& c, const YNode& n, Policy& p) { set_uint(c, n, 1, 1'000, p.restart.max); }},
  };
  return rows;
}

const KeyRow* find_key(std::string_view k) {
  for (const KeyRow& r : table())
    if (r.key == k) return &r;
  return nullptr;
}

// "exec" is a group when some key starts with "exec.".
bool is_group(std::string_view k) {
  for (const KeyRow& r : table())
    if (r.key.size() > k.size() && r.key.substr(0, k.size()) == k && r.key[k.size()] == '.')
      return true;
  return false;
}

std::vector<std::string_view> candidates() {
  std::vector<std::string_view> out;
  for (const KeyRow& r : table()) {
    out.push_back(r.key);
    size_t dot = r.key.find('.');
    if (dot != std::string_view::npos) out.push_back(r.key.substr(0, dot));
  }
  return out;
}

// Walks one mapping; `prefix` is the dotted group it belongs to ("" at the top).
// Both `exec: {start: ...}` and the jail.conf-like `exec.start: ...` reach the same row.
void walk(const YNode& map, const std::string& prefix, Ctx& c,
          std::map<std::string, Location, std::less<>>& seen_leaf) {
  std::map<std::string, Location, std::less<>> seen_here;
  for (const auto& [k, v] : map.pairs) {
    std::string full = prefix.empty() ? k.value : prefix + "." + k.value;
    if (auto [it, fresh] = seen_here.emplace(k.value, k.at); !fresh) {
      c.diags.push_back(
          {c.file, k.at, "duplicate key '" + full + "' (first at " + pos(it->second) + ")"});
      continue;
    }
    if (const KeyRow* row = find_key(full)) {
      if (auto [it, fresh] = seen_leaf.emplace(full, k.at); !fresh) {
        c.diags.push_back(
            {c.file, k.at, "duplicate key '" + full + "' (first at " + pos(it->second) + ")"});
        continue;
      }
      c.key = full;
      size_t before = c.diags.size();
      row->parse(c, v, c.p);
      if (c.diags.size() == before && !c.p.locations.count(full)) c.mark(v, full);
    } else if (is_group(full)) {
      if (v.kind != YNode::Kind::map) {
        seen_leaf.emplace(full, k.at);  // "missing exec.start" would only repeat this
        c.key = full;
        c.error(v.at, "expected a mapping" + got_kind(v));
        continue;
      }
      walk(v, full, c, seen_leaf);
    } else {
      std::string shown = full.size() > 80 ? full.substr(0, 77) + "..." : full;
      c.diags.push_back(
          {c.file, k.at, "unknown key '" + shown + "'" + did_you_mean(full, candidates())});
    }
  }
}

}  // namespace

std::vector<std::string_view> policy_keys() {
  std::vector<std::string_view> out;
  for (const KeyRow& r : table()) out.push_back(r.key);
  return out;
}

void apply_schema(const YNode& root, Policy& p, std::vector<Diag>& diags) {
  Ctx c{p.file, diags, p, ""};
  std::map<std::string, Location, std::less<>> seen;
  walk(root, "", c, seen);
  for (const char* required : {"name", "path"}) {
    if (!seen.count(required))
      diags.push_back({p.file, root.at, "missing required key '" + std::string(required) + "'"});
  }
  // exec.start may be left out only with exec.init: jail (then /sbin/init runs); when
  // exec.init itself was wrong, that error is enough.
  bool init_bad = seen.count("exec.init") && !p.locations.count("exec.init");
  if (!seen.count("exec.start") && !seen.count("exec") && p.exec.init == Init::goodcop && !init_bad)
    diags.push_back({p.file, root.at, "missing required key 'exec.start'"});
}

}  // namespace goodcop::config
