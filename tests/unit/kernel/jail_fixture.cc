#include "tests/unit/kernel/jail_fixture.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "base/error.h"
#include "base/fd.h"
#include "tests/support/support.h"

namespace goodcop::test {
namespace {

void copy_file(const std::string& from, const std::string& to, mode_t mode) {
  std::string data = read_file(from);
  UniqueFd fd = open_fd(to, O_WRONLY | O_CREAT | O_TRUNC, mode);
  write_all(fd.get(), data, to);
  check(::fchmod(fd.get(), mode), "fchmod", to);
}

class Rootfs {
 public:
  Rootfs() {
    std::string tmpl = "/tmp/goodcop-rootfs.XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw SysError("mkdtemp", tmpl, errno);
    dir_ = tmpl;
    check(::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"), "mount",
          dir_);
    for (const char* d : {"bin", "proc", "dev", "sys", "etc", "mnt", "data", "root"})
      check(::mkdir((dir_ + "/" + d).c_str(), 0755), "mkdir", d);
    check(::mkdir((dir_ + "/tmp").c_str(), 01777), "mkdir", "tmp");
    check(::chmod((dir_ + "/tmp").c_str(), 01777), "chmod", "tmp");
    copy_file("/bin/busybox", dir_ + "/bin/busybox", 0755);
    RunResult list = run({"/bin/busybox", "--list"});
    std::istringstream applets(list.out);
    for (std::string a; std::getline(applets, a);)
      if (!a.empty() && a != "busybox") ::symlink("busybox", (dir_ + "/bin/" + a).c_str());
    copy_file(KERNEL_PROBE, dir_ + "/bin/kernel_probe", 0755);
    copy_file(KERNEL_PROBE, dir_ + "/bin/suid_probe", 04755);
    write_text(dir_ + "/etc/group", "root:x:0:\nuser:x:1000:\n");
    write_text(dir_ + "/etc/passwd",
               "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/tmp:/bin/sh\n");
  }
  ~Rootfs() {
    ::umount2(dir_.c_str(), MNT_DETACH);
    ::rmdir(dir_.c_str());
  }
  const std::string& path() const { return dir_; }

 private:
  std::string dir_;
};

}  // namespace

const std::string& jail_rootfs() {
  static Rootfs rootfs;
  return rootfs.path();
}

const kernel::Helper& jail_helper() {
  static kernel::Helper helper(GOODCOP_BINARY);
  return helper;
}

kernel::JailSpec jail_spec(std::vector<std::string> argv) {
  kernel::JailSpec spec;
  spec.name = "t-" + std::to_string(::getpid());
  spec.root = jail_rootfs();
  spec.hostname = "jailhost";
  spec.argv = std::move(argv);
  spec.cgroup = false;
  return spec;
}

std::string read_until_eof(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

JailRun run_jail(kernel::JailSpec spec) {
  int o[2], e[2];
  check(::pipe2(o, O_CLOEXEC), "pipe2");
  UniqueFd out_r(o[0]), out_w(o[1]);
  check(::pipe2(e, O_CLOEXEC), "pipe2");
  UniqueFd err_r(e[0]), err_w(e[1]);
  UniqueFd null = open_fd("/dev/null", O_RDONLY);
  spec.stdio[0] = null.get();
  spec.stdio[1] = out_w.get();
  spec.stdio[2] = err_w.get();
  kernel::Jail jail = kernel::start(spec, jail_helper());
  out_w.reset();
  err_w.reset();
  JailRun r;
  drain_pipes(out_r.get(), err_r.get(), r.out, r.err);
  r.status = jail.wait();
  return r;
}

std::vector<std::string> host_mounts() {
  std::vector<std::string> lines;
  std::istringstream in(read_file("/proc/self/mountinfo"));
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

}  // namespace goodcop::test
