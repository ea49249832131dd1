// kernel_probe: a static binary copied into the test jails. Each probe attempts one escape
// and stops at proving access: exit 0 and "blocked: ..." when the attempt fails, exit 1 and
// "ACCESS: ..." when it got through (the test then fails). Never damages the host: calls
// that would change something are made with arguments the kernel rejects only after its
// permission check (EINVAL/EBADF past the check still counts as access).
#include <dirent.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/timex.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <csignal>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

int blocked(const char* what, int err) {
  std::printf("blocked: %s: %s\n", what, std::strerror(err));
  return 0;
}
int access_granted(const char* what) {
  std::printf("ACCESS: %s\n", what);
  return 1;
}
// rc < 0 with errno in {EPERM, EACCES} (or ENOSYS for clone3-style refusals) is blocked.
int expect_denied(const char* what, long rc) {
  if (rc < 0 && (errno == EPERM || errno == EACCES || errno == ENOSYS)) return blocked(what, errno);
  return access_granted(what);
}

int probe(const std::string& name, int argc, char** argv) {
  if (name == "euid") {  // for the setuid test: prints the effective uid
    std::printf("euid=%d\n", static_cast<int>(::geteuid()));
    return ::geteuid() == 0 ? 1 : 0;
  }
  if (name == "open_by_handle_at") {
    struct {
      file_handle fh;
      unsigned char bytes[128];
    } h{};
    h.fh.handle_bytes = 128;
    int mount_id = 0;
    if (::name_to_handle_at(AT_FDCWD, "/", &h.fh, &mount_id, 0) != 0) {
      h.fh.handle_bytes = 8;  // refused too: try a made-up handle
      h.fh.handle_type = 1;
    }
    int fd = ::open_by_handle_at(AT_FDCWD, &h.fh, O_RDONLY);
    return expect_denied("open_by_handle_at", fd);
  }
  if (name == "bpf") {
    bpf_attr a{};
    a.map_type = BPF_MAP_TYPE_ARRAY;
    a.key_size = 4;
    a.value_size = 4;
    a.max_entries = 1;
    return expect_denied("bpf", ::syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof a));
  }
  if (name == "perf_event_open") {
    perf_event_attr a{};
    a.size = sizeof a;
    a.type = PERF_TYPE_SOFTWARE;
    a.config = PERF_COUNT_SW_CPU_CLOCK;
    a.disabled = 1;
    return expect_denied("perf_event_open", ::syscall(SYS_perf_event_open, &a, 0, -1, -1, 0));
  }
  if (name == "keyctl") {
    return expect_denied("add_key", ::syscall(SYS_add_key, "user", "goodcop-probe", "x", 1,
                                              -2 /* KEY_SPEC_PROCESS_KEYRING */));
  }
  if (name == "userfaultfd")
    return expect_denied("userfaultfd", ::syscall(SYS_userfaultfd, O_CLOEXEC));
  if (name == "io_uring") {
    io_uring_params p{};
    return expect_denied("io_uring_setup", ::syscall(SYS_io_uring_setup, 1, &p));
  }
  if (name == "module") {
    return expect_denied("finit_module", ::syscall(SYS_finit_module, -1, "", 0)) |
           expect_denied("init_module", ::syscall(SYS_init_module, nullptr, 0, ""));
  }
  if (name == "kexec") {
    return expect_denied("kexec_file_load", ::syscall(SYS_kexec_file_load, -1, -1, 0, "", 0));
  }
  if (name == "reboot") {  // a wrong magic: EINVAL only after the CAP_SYS_BOOT check
    return expect_denied("reboot", ::syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, 0, 0, nullptr));
  }
  if (name == "swapon") return expect_denied("swapon", ::syscall(SYS_swapon, "/nonexistent", 0));
  if (name == "clock") {  // an invalid tick: EINVAL only after the CAP_SYS_TIME check
    timex t{};
    t.modes = ADJ_TICK;
    t.tick = 1;
    int a = expect_denied("adjtimex", ::adjtimex(&t));
    timespec ts{0, 2000000000L};
    return a | expect_denied("clock_settime", ::syscall(SYS_clock_settime, CLOCK_REALTIME, &ts));
  }
  if (name == "mount") {  // proc, sysfs, tmpfs onto /tmp (only ever the jail's own view)
    int r = 0;
    for (const char* fs : {"proc", "sysfs", "tmpfs"}) {
      if (::mount(fs, "/tmp", fs, 0, nullptr) == 0) {
        ::umount2("/tmp", MNT_DETACH);
        r |= access_granted(fs);
      } else {
        blocked(fs, errno);
      }
    }
    return r;
  }
  if (name == "userns-mount") {
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return blocked("unshare", errno);
    if (::mount("tmpfs", "/tmp", "tmpfs", 0, nullptr) != 0) return blocked("mount", errno);
    return access_granted("unshare(CLONE_NEWUSER) then mount");
  }
  if (name == "raw-socket") {
    int a = expect_denied("socket AF_INET SOCK_RAW", ::socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
    return a | expect_denied("socket AF_PACKET", ::socket(AF_PACKET, SOCK_RAW, 0));
  }
  if (name == "mknod-disk" && argc == 2) {  // MAJOR:MINOR of the host's disk
    unsigned maj = 0, min = 0;
    std::sscanf(argv[1], "%u:%u", &maj, &min);
    if (::mknod("/tmp/disk", S_IFBLK | 0600, makedev(maj, min)) != 0)
      return blocked("mknod", errno);
    int fd = ::open("/tmp/disk", O_RDONLY);
    ::unlink("/tmp/disk");
    if (fd < 0) return blocked("open device", errno);
    char buf[512];
    if (::read(fd, buf, sizeof buf) != static_cast<ssize_t>(sizeof buf))
      return blocked("read", errno);
    return access_granted("read the host's disk");
  }
  if (name == "chroot-escape" && argc == 2) {  // argv[1]: a path only the host has
    ::mkdir("/tmp/x", 0700);
    if (::chroot("/tmp/x") != 0) return blocked("chroot", errno);
    for (int i = 0; i < 64; ++i)
      if (::chdir("..") != 0) break;
    if (::chroot(".") != 0) return blocked("second chroot", errno);
    if (::access(argv[1], F_OK) == 0) return access_granted("double chroot reached the host");
    return blocked("double chroot stayed in the jail", ENOENT);
  }
  if (name == "fd-escape" && argc == 3) {  // argv[1]: fd number, argv[2]: relative host path
    int fd = std::atoi(argv[1]);
    struct stat st {};
    if (::fstatat(fd, argv[2], &st, 0) == 0) return access_granted("inherited fd leads out");
    return blocked("inherited fd", errno);
  }
  if (name == "proc-roots") {  // every visible process's root and cwd must be our root
    struct stat mine {};
    ::stat("/", &mine);
    DIR* d = ::opendir("/proc");
    int r = 0;
    while (dirent* e = d != nullptr ? ::readdir(d) : nullptr) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      for (const char* link : {"root", "cwd"}) {
        std::string p = std::string("/proc/") + e->d_name + "/" + link + "/";
        struct stat st {};
        if (::stat(p.c_str(), &st) != 0) continue;
        if (st.st_dev != mine.st_dev || (std::string(link) == "root" && st.st_ino != mine.st_ino))
          r |= access_granted(p.c_str());
      }
    }
    if (r == 0) blocked("every /proc/*/root is the jail's root", 0);
    return r;
  }
  if (name == "host-process" && argc == 2) {  // argv[1]: a host pid
    pid_t pid = std::atoi(argv[1]);
    int r = 0;
    if (::kill(pid, SIGCONT) == 0)
      r |= access_granted("signal a host process");
    else
      blocked("kill", errno);
    if (::ptrace(PTRACE_ATTACH, pid, nullptr, nullptr) == 0)
      r |= access_granted("ptrace a host process");
    else
      blocked("ptrace", errno);
    return r;
  }
  if (name == "write-exes") {  // open every visible process's /proc/PID/exe for writing
    int r = 0;
    DIR* d = ::opendir("/proc");
    if (d == nullptr) return blocked("/proc", errno);
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
      std::string exe = std::string("/proc/") + e->d_name + "/exe";
      int fd = ::open(exe.c_str(), O_WRONLY);
      if (fd >= 0)
        r |= access_granted(exe.c_str());
      else
        blocked(exe.c_str(), errno);
    }
    ::closedir(d);
    return r;
  }
  if (name == "write" && argc == 2) {  // open for writing
    int fd = ::open(argv[1], O_WRONLY);
    if (fd >= 0) return access_granted(argv[1]);
    return blocked(argv[1], errno);
  }
  if (name == "mkdir" && argc == 2) {
    if (::mkdir(argv[1], 0700) == 0) return access_granted(argv[1]);
    return blocked(argv[1], errno);
  }
  if (name == "sethostname") return expect_denied("sethostname", ::sethostname("evil", 4));
  if (name == "new-namespace") {
    int r = expect_denied("unshare", ::unshare(CLONE_NEWNS));
    r |= expect_denied("unshare", ::unshare(CLONE_NEWUSER));
    return r | expect_denied("clone3", ::syscall(SYS_clone3, nullptr, 0));
  }
  if (name == "fork" && argc == 2) {  // forks up to N sleeping children, prints how many
    int want = std::atoi(argv[1]), got = 0, err = 0;
    for (; got < want; ++got) {
      pid_t p = ::fork();
      if (p < 0) {
        err = errno;
        break;
      }
      if (p == 0) {
        ::pause();
        ::_exit(0);
      }
    }
    std::printf("forked=%d err=%s\n", got, err != 0 ? std::strerror(err) : "none");
    return 0;  // init kills the children when the command exits
  }
  if (name == "x32") {  // x32 numbering on x86_64: the filter must kill, not allow
    long rc = ::syscall(0x40000000L | SYS_getpid);
    std::printf("ACCESS: x32 syscall returned %ld\n", rc);
    return 1;
  }
  std::fprintf(stderr, "kernel_probe: unknown probe '%s'\n", name.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  int r = probe(argv[1], argc - 1, argv + 1);
  std::fflush(stdout);
  return r;
}
