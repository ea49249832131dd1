#pragma once
// PolicyDriver: the real JailDriver. It runs one jail as its policy says, over the
// layers below: kernel/ confines it, integrity/ checks it, backups/ restores it from its
// golden archive and preserves evidence. docs/operations.md ("Storage and healing")
// describes what lives where.
//
// A check compares the tree with a local baseline: a manifest built from the tree itself
// (so inode and ctime, which a jailed process cannot set back, are meaningful) that was
// accepted only because its content equals the golden archive's manifest. The first check
// after a restore or a seal builds it; until then nothing is trusted.
//
// With overlay storage a check between walks looks at the upper layer only, where every
// write of the jail lands (upper_scan.h): O(what changed). The merged tree is walked (and
// the rolling rehash advanced) at most every kOverlayWalkEvery, or when upper shows a change.

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "config/policy.h"
#include "integrity/glob.h"
#include "integrity/manifest.h"
#include "integrity/trigger.h"
#include "integrity/verify.h"
#include "kernel/jail.h"
#include "watchdog/daemon/driver.h"
#include "watchdog/driver/policy_map.h"

namespace goodcop::driver {

// How often an overlay jail's merged tree is walked when its upper layer shows nothing.
inline constexpr std::chrono::seconds kOverlayWalkEvery{60};

class PolicyDriver final : public supervisor::JailDriver {
 public:
  // `helper`: the binary that sets jails up (kernel/jail.h); tests name GOODCOP_BINARY.
  PolicyDriver(config::Policy policy, const std::string& state_dir,
               const kernel::Helper& helper = kernel::self_helper());
  ~PolicyDriver() override;
  PolicyDriver(const PolicyDriver&) = delete;
  PolicyDriver& operator=(const PolicyDriver&) = delete;

  void start() override;
  bool adopt() override;
  supervisor::CheckResult check() override;
  void freeze() override;
  void thaw() override;
  std::string write_evidence(const supervisor::Incident& incident) override;
  void kill() override;
  void restore() override;
  void stop() override;
  int exit_fd() override;
  std::string address() const override;
  int change_fd() override;
  bool changes_pending() override;
  int exec(const std::vector<std::string>& argv, const supervisor::ExecIo& io) override;
  std::string seal() override;
  std::string select_golden(const std::string& version) override;

  const config::Policy& policy() const { return p_; }

 private:
  bool overlay() const { return p_.storage == config::Storage::overlay; }
  std::string rw_dir() const { return paths_.dir + "/rw"; }  // overlay upper + work
  std::shared_ptr<kernel::Jail> jail() const;
  void set_jail(std::shared_ptr<kernel::Jail> j);
  // Kills what is left of the jail and reaps it (idempotent).
  void drop_jail();
  std::shared_ptr<kernel::Jail> owned_or_adopted();
  void kill_leftovers();
  // Reads the current golden archive's manifest when it changed.
  void load_golden();
  // Mounts (overlay) or creates (plain) the jail's tree from the current golden archive.
  void prepare_tree(bool fresh);
  void unmount_tree();
  void check_keep_dirs() const;
  // The tree against the baseline, or (no baseline yet) against the golden manifest,
  // accepting the tree as the baseline when it equals it.
  integrity::Diff compare();

  config::Policy p_;
  std::string state_dir_;
  const kernel::Helper& helper_;
  JailPaths paths_;
  std::vector<std::string> ignores_;
  integrity::IgnoreSet ignore_set_;  // ignores_, compiled once (the upper scan uses it)

  mutable std::mutex mu_;  // guards jail_ and trigger_ against exec() and changes_pending()
  std::shared_ptr<kernel::Jail> jail_;
  UniqueFd trigger_root_;  // the trigger keeps using it (new directories are watched)
  std::unique_ptr<integrity::ChangeTrigger> trigger_;
  // (Re)creates the change trigger on the jail's tree (watch.triggers), or drops it.
  void arm_trigger(bool on);

  // Overlay storage with a user namespace: the host sees the tree's ids shifted by this
  // (idmap.h); 0 otherwise.
  uint32_t id_shift_ = 0;
  std::string lower_;  // the lower tree of the overlay (overlay storage)
  dev_t lower_dev_ = 0;  // which directory lower_ was when it was mounted
  ino_t lower_ino_ = 0;
  // The last deviation lies (in part) in the lower tree: nothing in upper accounts for it.
  // The heal then extracts the archive again instead of reusing the lower tree.
  bool lower_damaged_ = false;
  void set_lower(std::string lower);
  bool deviation_in_lower(const integrity::Diff& d) const;

  std::string golden_archive_, golden_sha_, golden_manifest_digest_;
  std::optional<integrity::Manifest> golden_;
  std::optional<integrity::Manifest> baseline_;
  integrity::RollingState rolling_;
  integrity::VerifyCache vcache_;  // files that hashed clean at a moved ctime
  uint64_t baseline_bytes_ = 0;
  // Overlay storage: when the merged tree was last walked (checks in between look at the
  // upper layer only, upper_scan.h).
  std::chrono::steady_clock::time_point last_walk_{};
  integrity::Diff last_diff_;
};

}  // namespace goodcop::driver
