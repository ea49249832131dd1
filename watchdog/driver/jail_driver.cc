#include "watchdog/driver/jail_driver.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

#include "backups/archive.h"
#include "backups/evidence.h"
#include "backups/fsops.h"
#include "backups/overlay.h"
#include "backups/restore.h"
#include "backups/seal.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/log.h"
#include "base/parse.h"
#include "base/scope_exit.h"
#include "integrity/glob.h"
#include "integrity/scan.h"
#include "kernel/cgroup.h"
#include "kernel/net.h"
#include "kernel/userns.h"
#include "watchdog/driver/idmap.h"
#include "watchdog/driver/upper_scan.h"

namespace goodcop::driver {
namespace {

using namespace std::chrono_literals;

// True when path is the root of a mount (statx STATX_ATTR_MOUNT_ROOT, Linux 5.8).
bool is_mount_root(const std::string& path) {
  struct statx sx {};
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, 0, &sx) < 0) {
    if (errno == ENOENT) return false;
    throw SysError("statx", path, errno);
  }
  return (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
         (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// mkdir -p for trusted host paths (the daemon's own state directory, the policy's path).
void make_dirs(const std::string& path, mode_t mode) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i != path.size() && path[i] != '/') continue;
    std::string part = path.substr(0, i);
    if (::mkdir(part.c_str(), mode) < 0 && errno != EEXIST) throw SysError("mkdir", part, errno);
  }
}

// The last `max` bytes of a file ("" when it cannot be read).
std::string tail_of(const std::string& path, size_t max) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return "";
  struct stat st {};
  if (::fstat(fd.get(), &st) < 0) return "";
  off_t from = st.st_size > static_cast<off_t>(max) ? st.st_size - static_cast<off_t>(max) : 0;
  std::string out(static_cast<size_t>(st.st_size - from), '\0');
  ssize_t n = ::pread(fd.get(), out.data(), out.size(), from);
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

// Runs fn, retrying while it fails with EBUSY: a killed jail's mount namespace lets go of
// its mounts shortly after its last process is reaped, not at once.
template <typename Fn>
auto retry_busy(Fn fn) {
  for (int attempt = 0;; ++attempt) {
    try {
      return fn();
    } catch (const SysError& e) {
      if (e.code() != EBUSY || attempt >= 40) throw;
    }
    std::this_thread::sleep_for(50ms);
  }
}

// A copy of `m` without the entries an IgnoreSet matches, its ids shifted by id_shift (the
// golden manifest as the checks see the tree: ignored and kept paths are not compared).
integrity::Manifest without_ignored(const integrity::Manifest& m,
                                    const std::vector<std::string>& globs, uint32_t id_shift) {
  integrity::IgnoreSet ignore(globs);
  integrity::Manifest out;
  out.ignore = globs;
  for (const auto& e : m.entries()) {
    std::string_view path = m.path(e);
    if (!path.empty() && ignore.matches(path)) continue;
    integrity::Entry shifted = e;
    if (shifted.uid < kernel::kJailIdCount) shifted.uid += id_shift;
    if (shifted.gid < kernel::kJailIdCount) shifted.gid += id_shift;
    out.add(path, shifted, m.link_target(e), m.xattrs(e));
  }
  out.sort();
  return out;
}

std::string summary_of(const integrity::Diff& d) {
  if (!d.limit.empty()) return d.limit;
  std::string s;
  auto add = [&s](uint64_t n, const char* what) {
    if (n == 0) return;
    if (!s.empty()) s += ", ";
    s += std::to_string(n) + " " + what;
  };
  add(d.changed, "changed");
  add(d.added, "added");
  add(d.removed, "removed");
  if (!d.changes.empty()) {
    std::string first = d.changes.front().path;
    s += " (" + (first.empty() ? std::string("/") : "/" + first);
    if (d.changes.size() > 1) s += ", ...";
    s += ")";
  }
  return s;
}

// Identifies a deviation: the same paths with the same kinds of change give the same
// fingerprint, so `on_tamper: alert` reports one deviation once.
std::string fingerprint_of(const integrity::Diff& d) {
  std::string text = d.limit + "\n";
  for (const auto& c : d.changes) text += c.path + " " + std::to_string(c.kinds) + "\n";
  return backups::sha256_hex(text);
}

}  // namespace

PolicyDriver::PolicyDriver(config::Policy policy, const std::string& state_dir,
                           const kernel::Helper& helper)
    : p_(std::move(policy)),
      state_dir_(state_dir),
      helper_(helper),
      paths_(jail_paths(state_dir, p_.name)),
      ignores_(check_ignores(p_)),
      ignore_set_(ignores_) {
  if (overlay() && p_.userns) {
    kernel::JailSpec named;
    named.name = p_.name;
    id_shift_ = kernel::host_id_base(named);
  }
}

PolicyDriver::~PolicyDriver() = default;

std::shared_ptr<kernel::Jail> PolicyDriver::jail() const {
  std::lock_guard lock(mu_);
  return jail_;
}

void PolicyDriver::set_jail(std::shared_ptr<kernel::Jail> j) {
  std::shared_ptr<kernel::Jail> old;
  {
    std::lock_guard lock(mu_);
    old = std::move(jail_);
    jail_ = std::move(j);
  }
  // `old` is destroyed here, outside the lock (its destructor kills and reaps), or later
  // by an exec() still holding it.
}

void PolicyDriver::drop_jail() {
  auto j = jail();
  if (!j) return;
  if (!j->try_wait()) {
    j->kill_all();
    j->wait();
  }
  set_jail(nullptr);
}

void PolicyDriver::load_golden() {
  std::string archive = backups::golden_current(p_.golden);
  if (archive == golden_archive_ && golden_) return;
  std::string sha = backups::verify_archive_digest(archive);
  std::string text = backups::read_manifest_member(archive);
  golden_ = integrity::parse_manifest(text);
  golden_archive_ = archive;
  golden_sha_ = sha;
  golden_manifest_digest_ = backups::sha256_hex(text);
}

void PolicyDriver::check_keep_dirs() const {
  // A kept path is bind-mounted over a directory of the golden tree. Creating a missing one
  // would change its parent, which the checks would then report as tampering: ask for it
  // in the golden tree instead.
  for (const auto& k : p_.keep) {
    struct stat st {};
    std::string at = p_.path + k;
    if (::lstat(at.c_str(), &st) < 0 || !S_ISDIR(st.st_mode))
      throw Error("jail '" + p_.name + "': keep path '" + k +
                  "' is not a directory in the jail's tree: seal the golden tree with an empty "
                  "directory there");
  }
}

void PolicyDriver::prepare_tree(bool fresh) {
  load_golden();
  make_dirs(paths_.dir, 0700);
  if (overlay()) {
    make_dirs(paths_.lower, 0700);
    set_lower(backups::prepare_lower(golden_archive_, paths_.lower));
    const std::string& lower = lower_;
    make_dirs(p_.path, 0755);
    if (is_mount_root(p_.path)) {
      if (!fresh) return;  // mounted by an earlier start of this jail: keep it
      retry_busy([&] { backups::unmount_overlay(p_.path); });
    }
    make_dirs(rw_dir(), 0700);
    if (p_.limits.disk && !is_mount_root(rw_dir()))
      backups::mount_upper_quota(rw_dir(), *p_.limits.disk);
    if (fresh || !exists(backups::upper_dirs(rw_dir()).upper)) backups::reset_upper(rw_dir());
    if (id_shift_ != 0) {
      mount_idmapped_overlay(lower, rw_dir(), paths_.dir + "/layers", id_shift_, p_.path);
    } else {
      backups::mount_overlay(lower, rw_dir(), p_.path);
    }
    return;
  }
  if (!fresh && exists(p_.path)) return;
  make_dirs(backups::parent_dir(p_.path), 0755);
  backups::recover_staging(p_.path, {});
  retry_busy([&] { return backups::restore_plain(golden_archive_, p_.path); });
}

void PolicyDriver::unmount_tree() {
  if (!overlay()) return;
  if (is_mount_root(p_.path)) retry_busy([&] { backups::unmount_overlay(p_.path); });
  if (p_.limits.disk && is_mount_root(rw_dir()))
    retry_busy([&] { backups::unmount_upper_quota(rw_dir()); });
}

void PolicyDriver::start() {
  drop_jail();
  prepare_tree(false);
  check_keep_dirs();
  for (const auto& k : p_.keep) make_dirs(paths_.data + k, 0755);
  UniqueFd null_fd(goodcop::check(::open("/dev/null", O_RDWR | O_CLOEXEC), "open", "/dev/null"));
  UniqueFd out(goodcop::check(::open(paths_.output.c_str(),
                            O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600),
                     "open", paths_.output));
  kernel::JailSpec spec = jail_spec(p_, paths_, null_fd.get(), out.get());
  set_jail(std::make_shared<kernel::Jail>(kernel::start(spec, helper_)));
  arm_trigger(p_.watch.triggers);
}

void PolicyDriver::arm_trigger(bool on) {
  std::unique_ptr<integrity::ChangeTrigger> t;
  UniqueFd root;
  if (on) {
    try {
      root = integrity::open_tree(p_.path);
      t = std::make_unique<integrity::ChangeTrigger>(root.get(), ignores_);
    } catch (const std::exception& e) {
      // A hint only: the interval's checks still run.
      log_warn("jail '{}': no change trigger: {}", p_.name, e.what());
    }
  }
  std::lock_guard lock(mu_);
  trigger_ = std::move(t);  // the old trigger goes before its root fd
  trigger_root_ = std::move(root);
}

int PolicyDriver::change_fd() {
  std::lock_guard lock(mu_);
  return trigger_ ? trigger_->fd() : -1;
}

bool PolicyDriver::changes_pending() {
  std::lock_guard lock(mu_);
  return trigger_ && trigger_->consume();
}

bool PolicyDriver::adopt() {
  // A jail left running by a daemon that died: take it over when its tree is still in
  // place; otherwise the supervisor starts it afresh (start() kills the leftovers).
  if (overlay() && !is_mount_root(p_.path)) return false;
  if (!overlay() && !exists(p_.path)) return false;
  UniqueFd null_fd(goodcop::check(::open("/dev/null", O_RDWR | O_CLOEXEC), "open", "/dev/null"));
  kernel::JailSpec spec = jail_spec(p_, paths_, null_fd.get(), null_fd.get());
  std::optional<kernel::Jail> found = kernel::adopt(spec);
  if (!found) return false;
  set_jail(std::make_shared<kernel::Jail>(std::move(*found)));
  if (overlay()) set_lower(backups::prepare_lower(backups::golden_current(p_.golden), paths_.lower));
  arm_trigger(p_.watch.triggers);
  return true;
}

// The jail this driver owns, or one a previous daemon left running (adopted now), or
// nullptr. A heal resumed after a daemon crash finds its jail this way.
std::shared_ptr<kernel::Jail> PolicyDriver::owned_or_adopted() {
  if (auto j = jail()) return j;
  try {
    if (adopt()) return jail();
  } catch (const std::exception& e) {
    log_warn("jail '{}': adopting a leftover jail: {}", p_.name, e.what());
  }
  return nullptr;
}

// Kills what a previous daemon may have left of this jail (cgroup, veth) when it could not
// be adopted.
void PolicyDriver::kill_leftovers() {
  JailCgroup::clean_stale(p_.name);
  if (p_.network == config::Network::veth) Veth::clean_stale(p_.name);
}

integrity::Diff PolicyDriver::compare() {
  load_golden();
  UniqueFd root = integrity::open_tree(p_.path);
  auto now = std::chrono::steady_clock::now();
  auto walk_every = std::max<std::chrono::milliseconds>(kOverlayWalkEvery, p_.watch.interval);
  if (!baseline_) {
    // The first check after a restore or seal: hash everything once, accept the result as
    // the local baseline only when its content is the golden archive's.
    integrity::ScanOptions so;
    so.ignore = ignores_;
    integrity::Manifest built;
    try {
      built = integrity::build_manifest(root.get(), so);
    } catch (const integrity::TreeChanged& e) {
      // A restored tree is still until the jail writes: a write in a checked path is a
      // deviation however it shows (retrying would let a jail that keeps writing keep its
      // tree from ever being checked).
      integrity::Diff d;
      d.limit = std::string("the tree changed while its baseline was built: ") + e.what();
      return d;
    }
    integrity::Diff d = integrity::diff(without_ignored(*golden_, ignores_, id_shift_), built, false);
    if (!d.clean()) return d;
    baseline_bytes_ = 0;
    for (const auto& e : built.entries()) baseline_bytes_ += e.size;
    baseline_ = std::move(built);
    rolling_ = {};
    vcache_.clear();
    last_walk_ = now;
    return d;
  }
  if (overlay() && now - last_walk_ < walk_every) {
    // Nothing in upper but ignored writes and unchanged parents: the merged tree is the
    // baseline's (its lower layer is read-only to the jail; the walks below rehash it).
    UniqueFd upper(::open(backups::upper_dirs(rw_dir()).upper.c_str(),
                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (upper && scan_upper(upper.get(), root.get(), *baseline_, ignore_set_) ==
                     UpperVerdict::kClean)
      return {};
  }
  integrity::VerifyOptions vo;
  vo.ignore = ignores_;
  // The rolling rehash reads all of the tree once per watch.full_every, spread over the
  // walks (every check in plain mode, every walk_every at most in overlay mode).
  auto walk_period = overlay() ? walk_every : p_.watch.interval;
  vo.rolling_budget = integrity::rolling_budget(
      baseline_bytes_, static_cast<uint64_t>(walk_period.count()),
      static_cast<uint64_t>(p_.watch.full_every.count()));
  last_walk_ = now;
  return integrity::verify(root.get(), *baseline_, vo, &rolling_, &vcache_);
}

void PolicyDriver::set_lower(std::string lower) {
  struct stat st {};
  goodcop::check(::stat(lower.c_str(), &st), "stat", lower);
  lower_ = std::move(lower);
  lower_dev_ = st.st_dev;
  lower_ino_ = st.st_ino;
}

bool PolicyDriver::deviation_in_lower(const integrity::Diff& d) const {
  if (!overlay()) return false;
  UniqueFd upper(::open(backups::upper_dirs(rw_dir()).upper.c_str(),
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!upper) return false;
  return std::any_of(d.changes.begin(), d.changes.end(), [&](const integrity::Change& c) {
    return !upper_accounts_for(upper.get(), c.path);
  });
}

supervisor::CheckResult PolicyDriver::check() {
  integrity::Diff d = compare();
  supervisor::CheckResult r;
  if (d.clean()) return r;
  lower_damaged_ = deviation_in_lower(d);
  if (lower_damaged_)
    log_warn("jail '{}': the lower tree '{}' differs from the golden archive where no jail can write",
             p_.name, lower_);
  r.deviation = true;
  r.summary = summary_of(d);
  r.fingerprint = fingerprint_of(d);
  last_diff_ = std::move(d);
  return r;
}

void PolicyDriver::freeze() {
  auto j = owned_or_adopted();
  if (!j) {
    // Nothing of ours runs (a heal resumed after a daemon crash, its jail gone or not
    // adoptable): make sure nothing of a previous instance writes to the tree either.
    kill_leftovers();
    return;
  }
  if (!j->try_wait()) j->freeze();
}

void PolicyDriver::thaw() {
  auto j = jail();
  if (j && !j->try_wait()) j->thaw();
}

std::string PolicyDriver::write_evidence(const supervisor::Incident& inc) {
  load_golden();
  integrity::Diff d = last_diff_;
  if (inc.kind != "tamper") {
    // A responder's snapshot: the tree as it is now against the golden state.
    d = {};
    try {
      d = compare();
    } catch (const std::exception& e) {
      d.limit = std::string("check failed: ") + e.what();
    }
  }
  backups::Incident bi;
  bi.jail = p_.name;
  bi.trigger = inc.kind;
  bi.detected_at = inc.time;
  bi.policy_digest = backups::sha256_hex(fingerprint(p_));
  bi.golden_digest = golden_sha_;
  bi.manifest_digest = golden_manifest_digest_;
  bi.collector = "goodcop daemon pid " + std::to_string(::getpid());
  bi.diff_json = integrity::to_json(d).dump();
  if (overlay() && inc.kind == "tamper" && !lower_damaged_ &&
      exists(backups::upper_dirs(rw_dir()).upper)) {
    // Everything the jail wrote since its last heal is its upper layer: preserve all of it
    // (deletions are there too, as whiteouts), not only what the check named.
    bi.tree_root = backups::upper_dirs(rw_dir()).upper;
    bi.whole_tree = true;
  } else {
    bi.tree_root = p_.path;
    for (const auto& c : d.changes)
      if (!(c.kinds & integrity::kRemoved)) bi.paths.push_back(c.path.empty() ? "." : c.path);
  }
  if (auto j = jail(); j && !j->try_wait()) bi.volatile_state = backups::collect_volatile(j->pid());
  bi.volatile_state.push_back({"output.log", tail_of(paths_.output, 64 * 1024)});
  backups::EvidenceOptions eo;
  eo.dir = p_.evidence.dir;
  eo.keep = p_.evidence.keep;
  eo.signing_key = p_.evidence.sign_key;
  return backups::write_bundle(bi, eo).path;
}

void PolicyDriver::kill() {
  arm_trigger(false);
  owned_or_adopted();
  drop_jail();
  kill_leftovers();
}

void PolicyDriver::restore() {
  arm_trigger(false);
  drop_jail();
  baseline_.reset();
  last_diff_ = {};
  golden_archive_.clear();  // re-read `current`: a rollback may have moved it
  if (lower_damaged_ && !lower_.empty()) {
    // Reusing it would heal into the same deviation, again and again.
    if (backups::discard_lower(lower_, lower_dev_, lower_ino_))
      log_warn("jail '{}': the damaged lower tree '{}' was removed; extracting it again", p_.name,
               lower_);
    lower_damaged_ = false;
  }
  prepare_tree(true);
}

void PolicyDriver::stop() {
  if (auto j = jail(); j && !j->try_wait()) {
    try {
      if (!p_.exec.stop.empty()) {
        kernel::EnterOptions eo;
        kernel::enter(*j, p_.exec.stop, eo, helper_);
      } else {
        j->signal(SIGTERM);
      }
    } catch (const std::exception& e) {
      log_warn("jail '{}': graceful stop: {}", p_.name, e.what());
    }
    pollfd pfd{j->pidfd(), POLLIN, 0};
    auto ms = p_.stop_timeout.count();
    while (::poll(&pfd, 1, static_cast<int>(ms)) < 0 && errno == EINTR) {
    }
  }
  arm_trigger(false);
  drop_jail();
  unmount_tree();
}

int PolicyDriver::exit_fd() {
  auto j = jail();
  return j ? j->pidfd() : -1;
}

std::string PolicyDriver::address() const {
  if (!p_.ip4.empty()) return p_.ip4.front().addr_str();
  if (!p_.ip6.empty()) return p_.ip6.front().addr_str();
  return "-";
}

int PolicyDriver::exec(const std::vector<std::string>& argv, const supervisor::ExecIo& io) {
  auto j = jail();
  if (!j || j->try_wait()) throw Error("jail '" + p_.name + "' is not running");
  kernel::EnterOptions eo;
  eo.uid = j->spec().uid;
  eo.gid = j->spec().gid;
  eo.groups = j->spec().groups;
  eo.cwd = j->spec().cwd;
  for (int i = 0; i < 3; ++i) eo.stdio[i] = io.fds[i];
  return kernel::enter(*j, argv, eo, helper_);
}

std::string PolicyDriver::seal() {
  backups::GoldenVersion v;
  if (id_shift_ != 0) {
    // The host's view of the jail shows shifted ids; the archive must hold the jail's own.
    std::string view = paths_.dir + "/seal-view";
    make_dirs(view, 0700);
    if (lower_.empty()) prepare_tree(false);
    mount_raw_view(lower_, rw_dir(), view);
    ScopeExit unmount([&] { ::umount2(view.c_str(), MNT_DETACH); });
    v = backups::golden_seal(view, p_.golden);
  } else {
    v = backups::golden_seal(p_.path, p_.golden);
  }
  golden_archive_.clear();
  baseline_.reset();  // the next check rebuilds it against the new golden manifest
  last_diff_ = {};
  load_golden();
  return "golden version " + std::to_string(v.number) + " sealed: " + v.path;
}

std::string PolicyDriver::select_golden(const std::string& version) {
  auto versions = backups::golden_list(p_.golden);
  uint64_t number = 0;
  if (version.empty()) {
    const backups::GoldenVersion* prev = nullptr;
    for (const auto& v : versions) {
      if (v.current) break;
      prev = &v;
    }
    if (prev == nullptr)
      throw Error("jail '" + p_.name + "': no golden version before the current one");
    number = prev->number;
  } else {
    auto n = parse_uint(version, 1);
    if (!n) throw Error("jail '" + p_.name + "': invalid golden version '" + version + "'");
    number = n.value;
  }
  const backups::GoldenVersion* found = nullptr;
  for (const auto& v : versions)
    if (v.number == number) found = &v;
  if (found == nullptr)
    throw Error("jail '" + p_.name + "': no golden version " + std::to_string(number) + " in '" +
                p_.golden + "'");
  backups::golden_set_current(p_.golden, number);
  return "golden version " + std::to_string(number) + " is current: " + found->path;
}

}  // namespace goodcop::driver
