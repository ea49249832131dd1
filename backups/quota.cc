// The per-jail disk quota of overlay mode (overlay.h mount_upper_quota): the upper and
// work directories live on an ext4 filesystem in a sparse image file beside the mount
// point, attached to a loop device. A tmpfs `size=` would do the same in RAM (a 10G
// quota could eat 10G of memory); a sparse image costs only what the jail writes.
#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "backups/overlay.h"
#include "backups/spawn.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/scope_exit.h"

namespace goodcop::backups {
namespace {

// Smallest image mkfs.ext4 makes a usable filesystem of (and overlayfs a work dir on).
constexpr uint64_t kMinQuota = 1u << 20;

std::string clean(const std::string& dir) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  return d;
}

std::string find_mkfs() {
  for (const char* p : {"/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  throw Error("disk quota: mkfs.ext4 not found (install e2fsprogs)");
}

// A fresh sparse image of `bytes` at `image`, with an ext4 filesystem in it. No journal:
// the upper is thrown away on every restore and after a host crash (the image is then a
// leftover, recreated), so it buys nothing but space the jail was promised. -m 0: no
// blocks reserved for a root the jail's (user-namespaced) root is not.
void make_image(const std::string& image, uint64_t bytes) {
  {
    UniqueFd f = open_fd(image, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    check(::ftruncate(f.get(), static_cast<off_t>(bytes)), "ftruncate", image);
  }
  ProgramResult r = run_program({find_mkfs(), "-q", "-F", "-m", "0", "-O", "^has_journal", "-E",
                                 "root_owner=0:0,nodiscard", "-L", "goodcop-upper", image});
  if (r.status != 0) {
    std::string out = r.output;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    for (char& c : out)
      if (c == '\n') c = ' ';
    throw Error("disk quota: mkfs.ext4 '" + image + "' failed (exit " + std::to_string(r.status) +
                "): " + out);
  }
}

// Attaches `image` to a free loop device that detaches itself when its last user (the
// mount) goes (LO_FLAGS_AUTOCLEAR), and returns the device's fd.
UniqueFd attach_loop(const std::string& image, std::string& device) {
  UniqueFd backing = open_fd(image, O_RDWR | O_NOFOLLOW);
  UniqueFd ctl = open_fd("/dev/loop-control", O_RDWR);
  // Another process (or thread) may take the free device between GET_FREE and CONFIGURE.
  for (int attempt = 0;; ++attempt) {
    int n = check(::ioctl(ctl.get(), LOOP_CTL_GET_FREE), "ioctl LOOP_CTL_GET_FREE",
                  "/dev/loop-control");
    device = "/dev/loop" + std::to_string(n);
    UniqueFd dev = open_fd(device, O_RDWR);
    loop_config cfg{};
    cfg.fd = static_cast<__u32>(backing.get());
    cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    std::string name = image.substr(0, LO_NAME_SIZE - 1);
    std::copy(name.begin(), name.end(), cfg.info.lo_file_name);
    if (::ioctl(dev.get(), LOOP_CONFIGURE, &cfg) == 0) return dev;
    if (errno != EBUSY || attempt >= 16) throw SysError("ioctl LOOP_CONFIGURE", device, errno);
  }
}

}  // namespace

std::string upper_quota_image(const std::string& mount_dir) { return clean(mount_dir) + ".img"; }

void mount_upper_quota(const std::string& mount_dir, uint64_t bytes) {
  std::string dir = clean(mount_dir);
  try {
    if (bytes < kMinQuota)
      throw Error("size " + std::to_string(bytes) + " is below the minimum of 1 MiB");
    struct statx sx {};
    check(::statx(AT_FDCWD, dir.c_str(), AT_SYMLINK_NOFOLLOW, STATX_TYPE, &sx), "statx", dir);
    if (!S_ISDIR(sx.stx_mode)) throw Error("not a directory");
    if ((sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0 &&
        (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0)
      throw Error("already a mount point (unmount_upper_quota first)");
    std::string image = upper_quota_image(dir);
    // A leftover of a crashed run (the mount is gone, the image stayed): a fresh one
    // replaces it, as the upper it held is discarded on restart anyway. A loop device
    // still attached to it somewhere keeps the unlinked inode until it lets go.
    if (::unlink(image.c_str()) < 0 && errno != ENOENT) throw SysError("unlink", image, errno);
    ScopeExit drop_image([&] { ::unlink(image.c_str()); });
    make_image(image, bytes);
    std::string device;
    UniqueFd loop = attach_loop(image, device);
    check(::mount(device.c_str(), dir.c_str(), "ext4", MS_NODEV | MS_NOSUID | MS_NOATIME, ""),
          "mount ext4", dir);
    // From here the mount holds the loop device; closing `loop` leaves it to autoclear.
    if (::chmod(dir.c_str(), 0700) < 0) {
      int err = errno;
      ::umount2(dir.c_str(), UMOUNT_NOFOLLOW);
      throw SysError("chmod", dir, err);
    }
    drop_image.dismiss();
  } catch (...) {
    rethrow_with_context("disk quota '" + dir + "'");
  }
}

void unmount_upper_quota(const std::string& mount_dir) {
  std::string dir = clean(mount_dir);
  // Idempotent: a crash may have left the image without the mount, or nothing at all.
  if (::umount2(dir.c_str(), UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
    throw SysError("umount", dir, errno);
  std::string image = upper_quota_image(dir);
  if (::unlink(image.c_str()) < 0 && errno != ENOENT) throw SysError("unlink", image, errno);
}

}  // namespace goodcop::backups
