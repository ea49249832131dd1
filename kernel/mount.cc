#include "kernel/mount.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "base/error.h"

namespace goodcop::kernel {
namespace {

// Not named `bind`: with <functional> seen anywhere in the includes, a call with std::string
// arguments finds std::bind by argument-dependent lookup, an exact match for the MS_REC
// enumerator, and builds a callable that is never called: no mount at all, silently.
void bind_mount(const std::string& src, const std::string& dst, unsigned long extra = 0) {
  check(::mount(src.c_str(), dst.c_str(), nullptr, MS_BIND | extra, nullptr), "mount", dst);
}

// Read-only through mount_setattr, which changes only the given attribute: a plain
// MS_REMOUNT would have to repeat the locked nosuid/nodev/noexec flags in a user
// namespace or fail with EPERM.
void make_read_only(const std::string& path, bool recursive) {
  struct mount_attr attr {};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  check(::mount_setattr(AT_FDCWD, path.c_str(), recursive ? AT_RECURSIVE : 0, &attr, sizeof attr),
        "mount_setattr", path);
}

bool exists(const std::string& path, mode_t* type = nullptr) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return false;
  if (type != nullptr) *type = st.st_mode & S_IFMT;
  return true;
}

void touch(const std::string& path, mode_t mode) {
  int fd =
      check(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode), "open", path);
  ::close(fd);
}

void ensure_dir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) check(-1, "mkdir", path);
}

}  // namespace

UniqueFd clone_tree(const std::string& path, const TreeAttrs& attrs) {
  UniqueFd fd(check(::open_tree(AT_FDCWD, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC),
                    "open_tree", path));
  struct mount_attr attr {};
  attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  if (attrs.read_only) attr.attr_set |= MOUNT_ATTR_RDONLY;
  if (attrs.userns_fd >= 0) {
    attr.attr_set |= MOUNT_ATTR_IDMAP;
    attr.userns_fd = static_cast<uint64_t>(attrs.userns_fd);
  }
  check(::mount_setattr(fd.get(), "", AT_EMPTY_PATH, &attr, sizeof attr), "mount_setattr", path);
  return fd;
}

void make_mounts_private() {
  check(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), "mount", "/");
}

void attach_tree(int tree_fd, const std::string& target) {
  check(::move_mount(tree_fd, "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH), "move_mount",
        target);
}

void mount_proc(const std::string& root) {
  const std::string proc = root + "/proc";
  check(::mount("proc", proc.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr), "mount",
        proc);
  // The kernel's knobs: /proc/sys/kernel/core_pattern runs a helper as host root, sysrq
  // reboots the host. Read-only even for a muzzled root without a user namespace.
  for (const char* p : {"sys", "sysrq-trigger", "irq", "bus", "fs"}) {
    std::string path = proc + "/" + p;
    if (!exists(path)) continue;
    bind_mount(path, path, MS_REC);
    make_read_only(path, true);
  }
  // Host memory, kernel addresses and keys: masked with /dev/null (what runc masks).
  for (const char* p : {"kcore", "keys", "timer_list", "sched_debug", "kallsyms", "latency_stats",
                        "kmsg", "kpagecount", "kpageflags", "kpagecgroup"}) {
    std::string path = proc + "/" + p;
    mode_t type = 0;
    if (exists(path, &type) && type == S_IFREG) bind_mount("/dev/null", path);
  }
  for (const char* p : {"acpi", "scsi", "asound"}) {
    std::string path = proc + "/" + p;
    mode_t type = 0;
    if (!exists(path, &type) || type != S_IFDIR) continue;
    check(::mount("tmpfs", path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY,
                  "size=0,mode=0555"),
          "mount", path);
  }
}

void mount_dev(const std::string& root) {
  const std::string dev = root + "/dev";
  check(::mount("tmpfs", dev.c_str(), "tmpfs", MS_NOSUID | MS_NOEXEC,
                "mode=0755,size=64k,nr_inodes=64"),
        "mount", dev);
  // Bound from the host rather than mknod'ed: the jail may have no CAP_MKNOD in the initial
  // user namespace, and a bind carries no other device with it.
  for (const char* name : {"null", "zero", "full", "random", "urandom", "tty"}) {
    std::string path = dev + "/" + name;
    touch(path, 0666);
    bind_mount(std::string("/dev/") + name, path);
  }
  const std::string pts = dev + "/pts";
  ensure_dir(pts, 0755);
  // A private devpts instance: the jail's ptys are not the host's (no /dev/pts/0 of an
  // admin's terminal to write into).
  check(::mount("devpts", pts.c_str(), "devpts", MS_NOSUID | MS_NOEXEC,
                "newinstance,ptmxmode=0666,mode=0620,gid=5"),
        "mount", pts);
  struct Link {
    const char* target;
    const char* name;
  };
  for (const Link& l :
       {Link{"pts/ptmx", "ptmx"}, Link{"/proc/self/fd", "fd"}, Link{"/proc/self/fd/0", "stdin"},
        Link{"/proc/self/fd/1", "stdout"}, Link{"/proc/self/fd/2", "stderr"}}) {
    std::string path = dev + "/" + l.name;
    check(::symlink(l.target, path.c_str()), "symlink", path);
  }
  ensure_dir(dev + "/shm", 01777);
  check(::chmod((dev + "/shm").c_str(), 01777), "chmod", dev + "/shm");
}

Console make_console(const std::string& root) {
  const std::string ptmx = root + "/dev/pts/ptmx";
  UniqueFd master(
      check(::open(ptmx.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK), "open", ptmx));
  int unlock = 0;
  check(::ioctl(master.get(), TIOCSPTLCK, &unlock), "ioctl TIOCSPTLCK", ptmx);
  unsigned int n = 0;
  check(::ioctl(master.get(), TIOCGPTN, &n), "ioctl TIOCGPTN", ptmx);
  const std::string console = root + "/dev/console";
  touch(console, 0600);
  const std::string slave = root + "/dev/pts/" + std::to_string(n);
  bind_mount(slave, console);
  Console c;
  c.slave = UniqueFd(check(::open(slave.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC), "open", slave));
  c.master = std::move(master);
  return c;
}

void mount_tmpfs(const std::string& path) {
  check(::mount("tmpfs", path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"), "mount", path);
}

void pivot_into(const std::string& root) {
  check(::chdir(root.c_str()), "chdir", root);
  // pivot_root(".", "."): the old root is stacked on top of the new one and unmounted
  // right away, so no put_old directory has to exist in the jail's tree (pivot_root(2)).
  check(static_cast<int>(::syscall(SYS_pivot_root, ".", ".")), "pivot_root", root);
  check(::umount2(".", MNT_DETACH), "umount2", "old root");
  check(::chdir("/"), "chdir", "/");
}

}  // namespace goodcop::kernel
