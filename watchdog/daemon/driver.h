#pragma once
// JailDriver: everything the supervisor asks of one jail, behind a small interface,
// so the loop's sequencing is independent of how jails are confined (kernel/),
// checked (integrity/) and restored or preserved (backups/). The real driver maps a
// Policy onto those layers; tests use a fake (tests/unit/watchdog/fake_driver.h).
//
// Threading: every call except exit_fd() and address() runs on the work pool, one
// call at a time per jail (the supervisor never overlaps two calls of one driver).
// Failures are exceptions (base/error.h); expected outcomes are values.

#include <chrono>
#include <string>
#include <vector>

#include "base/error.h"

namespace goodcop::supervisor {

// The outcome of one check.
struct CheckResult {
  bool deviation = false;
  std::string summary;      // "2 changed, 1 added" (goes into the event's reason)
  std::string fingerprint;  // identifies this deviation (a diff digest), "" if unknown
};

// What the evidence bundle is about.
struct Incident {
  std::string id;  // "web1-20261129T182001.123Z"
  std::string jail;
  std::string trigger;  // "deviation: 2 changed"
  std::chrono::system_clock::time_point time;
  // What kind of bundle: "tamper" (a deviation found by a check) or "snapshot" (an
  // operator's `goodcop snapshot` of a live jail, nothing is healed). Goes into the
  // bundle's name ([a-z0-9-]+).
  std::string kind = "tamper";
};

// The standard streams of a command run in the jail (`goodcop exec`): the client's own
// descriptors, passed over the control socket. Not owned.
struct ExecIo {
  int fds[3] = {-1, -1, -1};
};

// One jail as the supervisor sees it.
class JailDriver {
 public:
  virtual ~JailDriver() = default;
  // Brings the jail up from its (golden) tree. Idempotent: removes leftovers of an
  // earlier instance (a daemon that crashed mid-start) first.
  virtual void start() = 0;
  // Finds a jail left running by a previous daemon; true when it is alive and now owned.
  virtual bool adopt() = 0;
  // Compares the jail's tree with its manifest.
  virtual CheckResult check() = 0;
  // Freezes every process of the jail (idempotent).
  virtual void freeze() = 0;
  // Thaws the jail (idempotent).
  virtual void thaw() = 0;
  // Writes the evidence bundle of a frozen jail and syncs it; returns its path.
  // Must never leave a partial bundle under its final name.
  virtual std::string write_evidence(const Incident& incident) = 0;
  // Kills every process of the jail (idempotent).
  virtual void kill() = 0;
  // Restores the jail's tree from its golden archive, from scratch (idempotent).
  virtual void restore() = 0;
  // Stops the jail cleanly and removes what start() created.
  virtual void stop() = 0;
  // A descriptor that becomes readable when the jail's main process exits (a pidfd),
  // valid until the next start/adopt/kill/stop; -1 when there is none. Not owned by
  // the caller (it dups it).
  virtual int exit_fd() = 0;
  // A descriptor that becomes readable when the jail's tree may have been written (a
  // change trigger, integrity/trigger.h), -1 when there is none (watch.triggers off).
  // Valid until the next start/adopt/kill/restore/stop. Not owned by the caller (it dups it).
  virtual int change_fd() { return -1; }
  // Drains the trigger's events without blocking; true when the tree was written, so a
  // check is due now. Cheap: may run on the loop thread, beside the call on the pool.
  virtual bool changes_pending() { return false; }
  // The jail's address for status ("198.18.0.2", "-").
  virtual std::string address() const { return "-"; }

  // Runs argv inside the running jail like jexec(8), with io as its stdio; blocks until
  // it exits and returns its exit code (128+N on signal N). Unlike every other call it
  // runs on a thread of its own and may overlap any of them (a shell may stay for hours);
  // throws Error when the jail is not running.
  virtual int exec(const std::vector<std::string>& argv, const ExecIo& io) {
    (void)argv;
    (void)io;
    throw Error("exec: not supported by this jail driver");
  }
  // Accepts the jail's current tree as the next golden version (the old one is kept),
  // makes it current and checks against it from now on. Returns a line for the operator:
  // "golden version 3 sealed: /var/lib/goodcop/golden/web1/3.tar.zst".
  virtual std::string seal() { throw Error("seal: not supported by this jail driver"); }
  // Makes golden version `version` current ("" = the one before the current one) without
  // touching the running jail; the caller then restores it. Returns a line for the operator:
  // "golden version 2 is current: /var/lib/goodcop/golden/web1/2.tar.zst".
  virtual std::string select_golden(const std::string& version) {
    (void)version;
    throw Error("rollback: not supported by this jail driver");
  }
};

}  // namespace goodcop::supervisor
