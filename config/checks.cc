// Checks of key combinations: within one policy (finish_policy) and across the
// policies of one directory (cross_check). One place, right after parsing.
#include <algorithm>

#include "base/parse.h"
#include "config/schema.h"
#include "config/values.h"

namespace goodcop::config {
namespace {

std::string pos(Location at) { return std::to_string(at.line) + ":" + std::to_string(at.column); }

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// The host directories a policy names, with the key that names each.
std::vector<std::pair<std::string, std::string>> host_dirs(const Policy& p) {
  return {{"path", p.path}, {"evidence.dir", p.evidence.dir}, {"golden", p.golden}};
}

}  // namespace

void finish_policy(Policy& p, std::vector<Diag>& diags) {
  const std::string kVar = "/var/lib/goodcop/";
  if (!p.name.empty()) {
    if (p.hostname.empty()) p.hostname = p.name;
    if (p.golden.empty()) p.golden = kVar + "golden/" + p.name;
    if (p.evidence.dir.empty()) p.evidence.dir = kVar + "evidence/" + p.name;
  }
  bool has_network = p.locations.count("network") > 0;
  if (!has_network) p.network = p.ip4.empty() && p.ip6.empty() ? Network::none : Network::veth;
  if (p.exec.init == Init::jail && p.exec.start.empty()) p.exec.start = {"/sbin/init"};

  // Combinations are judged only on a policy whose every key parsed: a key that failed
  // would otherwise show up again as a confusing second error.
  if (!diags.empty()) return;
  auto error = [&](std::string_view key, const std::string& msg) {
    diags.push_back({p.file, p.at(key), std::string(key) + ": " + msg});
  };

  if (!p.locations.count("hostname") && !check_hostname(p.hostname).empty())
    error("name", "'" + p.name + "' is not a valid host name; set hostname");

  bool addresses = !p.ip4.empty() || !p.ip6.empty();
  if (p.network == Network::veth && !addresses)
    error("network", "veth needs at least one address in ip4 or ip6");
  if (p.network == Network::none && addresses)
    error("network", "none cannot have addresses; remove ip4 and ip6 or use veth");
  if (p.network == Network::host && addresses)
    error("network", "host shares the host's network and cannot have addresses");

  for (auto* list : {&p.ip4, &p.ip6}) {
    const char* key = list == &p.ip4 ? "ip4" : "ip6";
    for (size_t i = 0; i < list->size(); ++i)
      for (size_t j = 0; j < i; ++j)
        if ((*list)[i].same_addr((*list)[j]))
          error(std::string(key) + "[" + std::to_string(i) + "]",
                "address " + (*list)[i].addr_str() + " is listed twice (first at " +
                    pos(p.at(std::string(key) + "[" + std::to_string(j) + "]")) + ")");
  }

  if (p.watch.full_every < p.watch.interval)
    error(p.locations.count("watch.full_every") ? "watch.full_every" : "watch.interval",
          "watch.full_every (" + format_duration(p.watch.full_every) +
              ") must not be shorter than watch.interval (" + format_duration(p.watch.interval) +
              ")");

  // The host directories must stay out of each other: a jail that can write its own
  // evidence or golden archive can forge the very record of its tampering.
  auto dirs = host_dirs(p);
  for (size_t i = 1; i < dirs.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (paths_overlap(dirs[i].second, dirs[j].second))
        error(dirs[i].first,
              quoted(dirs[i].second) + " overlaps " + dirs[j].first + " " + quoted(dirs[j].second));
  if (!p.evidence.sign_key.empty() && paths_overlap(p.evidence.sign_key, p.path))
    error("evidence.sign_key",
          quoted(p.evidence.sign_key) + " is inside the jail path " + quoted(p.path));

  for (size_t i = 0; i < p.keep.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      std::string k = "keep[" + std::to_string(i) + "]";
      std::string first = " (keep[" + std::to_string(j) + "] at " +
                          pos(p.at("keep[" + std::to_string(j) + "]")) + ")";
      if (p.keep[i] == p.keep[j])
        error(k, quoted(p.keep[i]) + " is listed twice" + first);
      else if (paths_overlap(p.keep[i], p.keep[j]))
        error(k, quoted(p.keep[i]) + " and " + quoted(p.keep[j]) + " are nested" + first);
    }
  }

  for (size_t i = 0; i < p.mounts.size(); ++i) {
    const Mount& m = p.mounts[i];
    std::string base = "mounts[" + std::to_string(i) + "]";
    if (m.source == "/") error(base + ".source", "'/' would give the jail the whole host");
    for (const auto& [key, dir] : dirs)
      if (m.source != "/" && paths_overlap(m.source, dir))
        error(base + ".source", quoted(m.source) + " overlaps " + key + " " + quoted(dir));
    for (size_t j = 0; j < i; ++j)
      if (p.mounts[j].target == m.target)
        error(base + ".target",
              quoted(m.target) + " is already the target of mounts[" + std::to_string(j) + "]");
    for (const std::string& k : p.keep)
      if (paths_overlap(m.target, k))
        error(base + ".target", quoted(m.target) + " overlaps keep " + quoted(k));
  }
}

void cross_check(std::vector<FileResult>& files) {
  for (size_t j = 0; j < files.size(); ++j) {
    if (!files[j].policy) continue;
    const Policy& b = *files[j].policy;
    std::vector<Diag> found;
    auto error = [&](std::string_view key, const std::string& msg) {
      found.push_back({b.file, b.at(key), msg});
    };
    for (size_t i = 0; i < j; ++i) {
      if (!files[i].policy) continue;
      const Policy& a = *files[i].policy;
      auto ref = [&](std::string_view key) { return where(a.file, a.at(key)); };
      auto by = [&](std::string_view key) { return " by " + ref(key); };
      if (a.name == b.name) error("name", "name '" + b.name + "' is already used" + by("name"));
      if (paths_overlap(a.path, b.path))
        error("path", a.path == b.path ? "path '" + b.path + "' is already used" + by("path")
                                       : "path '" + b.path + "' overlaps path '" + a.path +
                                             "' of " + ref("path"));
      for (const auto* list : {&b.ip4, &b.ip6}) {
        const char* key = list == &b.ip4 ? "ip4" : "ip6";
        const auto& other = list == &b.ip4 ? a.ip4 : a.ip6;
        for (size_t x = 0; x < list->size(); ++x)
          for (size_t y = 0; y < other.size(); ++y)
            if ((*list)[x].same_addr(other[y]))
              error(std::string(key) + "[" + std::to_string(x) + "]",
                    "address " + (*list)[x].addr_str() + " is already used" +
                        by(std::string(key) + "[" + std::to_string(y) + "]"));
      }
      if (paths_overlap(a.evidence.dir, b.evidence.dir))
        error("evidence.dir",
              "evidence directory '" + b.evidence.dir + "' " +
                  (a.evidence.dir == b.evidence.dir ? "is already used"
                                                    : "overlaps '" + a.evidence.dir + "' used") +
                  by("evidence.dir"));
      // One customer's jail must not reach into another's root, evidence or golden
      // archive, neither through its own directories nor through a bind mount.
      // (Same-kind pairs are judged above; two jails may share one golden archive.)
      auto b_dirs = host_dirs(b);
      for (size_t m = 0; m < b.mounts.size(); ++m)
        b_dirs.emplace_back("mounts[" + std::to_string(m) + "].source", b.mounts[m].source);
      for (const auto& [bkey, bdir] : b_dirs) {
        for (const auto& [akey, adir] : host_dirs(a)) {
          if (akey == bkey) continue;
          if (paths_overlap(bdir, adir))
            error(bkey,
                  bkey + " '" + bdir + "' overlaps " + akey + " '" + adir + "' of " + ref(akey));
        }
      }
      for (size_t m = 0; m < a.mounts.size(); ++m) {
        std::string akey = "mounts[" + std::to_string(m) + "].source";
        for (const auto& [bkey, bdir] : host_dirs(b))
          if (paths_overlap(bdir, a.mounts[m].source))
            error(bkey, bkey + " '" + bdir + "' is bind-mounted by " + akey + " of " + ref(akey));
      }
    }
    if (!found.empty()) {
      files[j].policy.reset();
      for (Diag& d : found) files[j].diags.push_back(std::move(d));
    }
  }
}

}  // namespace goodcop::config
