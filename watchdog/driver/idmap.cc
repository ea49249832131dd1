#include "watchdog/driver/idmap.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <sys/capability.h>

#include "base/error.h"
#include "base/scope_exit.h"
#include "kernel/mount.h"
#include "kernel/userns.h"

namespace goodcop::driver {
namespace {

void ensure_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) < 0 && errno != EEXIST) throw SysError("mkdir", path, errno);
}

void check_overlay_path(const std::string& p) {
  if (p.find_first_of(",:\\") != std::string::npos)
    throw Error("overlay: path '" + p + "' contains ',', ':' or '\\'");
}

// Raises the file capabilities (still permitted) into this thread's effective set.
void raise_file_caps() {
  cap_t caps = cap_get_proc();
  if (caps == nullptr) throw SysError("cap_get_proc", "", errno);
  ScopeExit free_caps([&] { cap_free(caps); });
  const cap_value_t list[] = {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,
                              CAP_FSETID, CAP_MKNOD};
  check(cap_set_flag(caps, CAP_EFFECTIVE, 6, list, CAP_SET), "cap_set_flag", "");
  check(cap_set_proc(caps), "capset", "");
}

}  // namespace

UniqueFd userns_with_map(uint32_t base) {
  // A raw clone without CLONE_VM is a fork into a new user namespace; the child only
  // pauses (async-signal-safe) until it is killed once its namespace is held by an fd.
  const pid_t parent = ::getpid();
  long pid = ::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (pid < 0) throw SysError("clone", "CLONE_NEWUSER", errno);
  if (pid == 0) {
    // It must not outlive a daemon SIGKILLed meanwhile: it would keep the daemon's fds open
    // (close-on-exec acts only at exec), among them the lock that makes the next daemon
    // refuse to start ("is in use by another daemon").
    ::syscall(SYS_close_range, 3U, ~0U, 0U);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);  // the daemon died before the line above
    for (;;) ::pause();
  }
  auto child = static_cast<pid_t>(pid);
  // Killed, not asked to leave: a child that waited for EOF on a pipe could wait forever,
  // as another pool thread's child, forked at the same time, holds a copy of the pipe.
  ScopeExit reap([&] {
    ::kill(child, SIGKILL);
    while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
    }
  });
  kernel::write_id_maps(child, base);
  return open_fd("/proc/" + std::to_string(child) + "/ns/user", O_RDONLY);
}

void mount_idmapped_overlay(const std::string& lower, const std::string& rw_dir,
                            const std::string& scratch, uint32_t base,
                            const std::string& target) {
  UniqueFd userns = userns_with_map(base);
  int userns_fd = userns.get();
  std::string lower_at = scratch + "/lower", rw_at = scratch + "/rw";
  check_overlay_path(lower_at);
  check_overlay_path(rw_at);
  ensure_dir(scratch);
  ensure_dir(lower_at);
  ensure_dir(rw_at);
  // Attached only while the overlay is mounted: overlayfs takes private clones of its
  // layers (clone_private_mount, which needs them in our mount namespace), after which
  // these mounts are detached again.
  UniqueFd lower_tree = kernel::clone_tree(lower, {true, userns_fd});
  UniqueFd rw_tree = kernel::clone_tree(rw_dir, {false, userns_fd});
  kernel::attach_tree(lower_tree.get(), lower_at);
  ScopeExit drop_lower([&] { ::umount2(lower_at.c_str(), MNT_DETACH); });
  kernel::attach_tree(rw_tree.get(), rw_at);
  ScopeExit drop_rw([&] { ::umount2(rw_at.c_str(), MNT_DETACH); });
  std::string opts = "lowerdir=" + lower_at + ",upperdir=" + rw_at + "/upper,workdir=" + rw_at + "/work";
  // overlayfs does its work in the upper layer with the credentials of whoever mounted it.
  // Host root's ids have no place in the layers' mapping (only base..base+65535 do), so
  // the mount is made by this thread with the filesystem ids of the jail's root (base,
  // stored on disk as 0) and its capabilities raised again (setfsuid drops the file ones:
  // capabilities(7)). Both are per-thread and restored at once.
  ::syscall(SYS_setfsgid, base);
  ::syscall(SYS_setfsuid, base);
  ScopeExit back([] {
    ::syscall(SYS_setfsuid, 0);  // re-enables the file capabilities in the effective set
    ::syscall(SYS_setfsgid, 0);
  });
  raise_file_caps();
  check(::mount("overlay", target.c_str(), "overlay", MS_NODEV | MS_NOSUID, opts.c_str()),
        "mount overlay", target);
}

void mount_raw_view(const std::string& lower, const std::string& rw_dir,
                    const std::string& target) {
  std::string upper = rw_dir + "/upper";
  check_overlay_path(lower);
  check_overlay_path(upper);
  // Two lower layers and no upper: read-only by construction. The upper is also the live
  // overlay's upper; that is allowed without index=on, and this view is mounted fresh for
  // one seal of a jail in maintenance and unmounted right after.
  std::string opts = "lowerdir=" + upper + ":" + lower + ",index=off";
  check(::mount("overlay", target.c_str(), "overlay", MS_NODEV | MS_NOSUID | MS_RDONLY,
                opts.c_str()),
        "mount overlay", target);
}

}  // namespace goodcop::driver
