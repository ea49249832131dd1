#include "watchdog/driver/policy_source.h"

#include "base/error.h"
#include "config/policy.h"
#include "watchdog/driver/jail_driver.h"
#include "watchdog/driver/policy_map.h"

namespace goodcop::driver {

supervisor::PolicySet load_policy_set(const std::string& dir, const std::string& state_dir) {
  config::DirResult r = config::load_policy_dir(dir);
  if (!r.diags.empty()) {
    std::string msg = r.diags.front().str();
    for (size_t i = 1; i < r.diags.size(); ++i) msg += "; " + r.diags[i].str();
    throw Error(msg);
  }
  supervisor::PolicySet set;
  for (auto& f : r.files) {
    if (!f.ok()) {
      for (const auto& d : f.diags) set.problems.push_back(d.str());
      set.broken_files.insert(f.file);
      continue;
    }
    auto policy = std::make_shared<const config::Policy>(std::move(*f.policy));
    supervisor::DesiredJail d;
    d.cfg = jail_config(*policy);
    d.file = f.file;
    d.fingerprint = fingerprint(*policy);
    d.make_driver = [policy, state_dir]() -> std::unique_ptr<supervisor::JailDriver> {
      return std::make_unique<PolicyDriver>(*policy, state_dir);
    };
    set.jails.push_back(std::move(d));
  }
  return set;
}

}  // namespace goodcop::driver
