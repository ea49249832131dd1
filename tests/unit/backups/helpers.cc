#include "tests/unit/backups/helpers.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "backups/archive.h"
#include "base/error.h"
#include "base/fd.h"
#include "tests/support/support.h"

namespace goodcop::test {

Member file(const std::string& name, const std::string& data, unsigned mode) {
  Member m;
  m.name = name;
  m.data = data;
  m.mode = mode;
  return m;
}
Member dir(const std::string& name, unsigned mode) {
  Member m;
  m.name = name;
  m.type = 'd';
  m.mode = mode;
  return m;
}
Member slink(const std::string& name, const std::string& target) {
  Member m;
  m.name = name;
  m.type = 'l';
  m.mode = 0777;
  m.link = target;
  return m;
}
Member hlink(const std::string& name, const std::string& target) {
  Member m;
  m.name = name;
  m.type = 'h';
  m.link = target;
  return m;
}
Member device(const std::string& name, char type, unsigned long major, unsigned long minor,
              unsigned mode) {
  Member m;
  m.name = name;
  m.type = type;
  m.mode = mode;
  m.rdev_major = major;
  m.rdev_minor = minor;
  return m;
}
Member zeros(const std::string& name, int64_t size) {
  Member m;
  m.name = name;
  m.size_override = size;
  return m;
}

void make_archive(const std::string& path, const std::vector<Member>& members, bool zstd) {
  archive* a = archive_write_new();
  REQUIRE(archive_write_set_format_pax_restricted(a) == ARCHIVE_OK);
  if (zstd) REQUIRE(archive_write_add_filter_zstd(a) == ARCHIVE_OK);
  REQUIRE(archive_write_open_filename(a, path.c_str()) == ARCHIVE_OK);
  static const char zeros[65536] = {};
  for (const Member& m : members) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.name.c_str());
    archive_entry_set_perm(e, m.mode);
    archive_entry_set_mtime(e, 1700000000, 0);
    switch (m.type) {
      case 'f':
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_size(e, m.size_override >= 0 ? m.size_override
                                                       : static_cast<int64_t>(m.data.size()));
        break;
      case 'd': archive_entry_set_filetype(e, AE_IFDIR); break;
      case 'l':
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_set_symlink(e, m.link.c_str());
        break;
      case 'h':
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_hardlink(e, m.link.c_str());
        archive_entry_set_size(e, 0);
        break;
      case 'c':
      case 'b':
        archive_entry_set_filetype(e, m.type == 'c' ? AE_IFCHR : AE_IFBLK);
        archive_entry_set_rdevmajor(e, m.rdev_major);
        archive_entry_set_rdevminor(e, m.rdev_minor);
        break;
      case 'p': archive_entry_set_filetype(e, AE_IFIFO); break;
    }
    REQUIRE(archive_write_header(a, e) == ARCHIVE_OK);
    if (m.type == 'f') {
      if (m.size_override >= 0) {
        int64_t left = m.size_override;
        while (left > 0) {
          size_t n = static_cast<size_t>(std::min<int64_t>(left, sizeof zeros));
          REQUIRE(archive_write_data(a, zeros, n) == static_cast<la_ssize_t>(n));
          left -= static_cast<int64_t>(n);
        }
      } else if (!m.data.empty()) {
        REQUIRE(archive_write_data(a, m.data.data(), m.data.size()) ==
                static_cast<la_ssize_t>(m.data.size()));
      }
    }
    archive_entry_free(e);
  }
  REQUIRE(archive_write_close(a) == ARCHIVE_OK);
  archive_write_free(a);
}

namespace {
// nftw takes a plain function: its state is per thread (tests snapshot from several).
thread_local std::map<std::string, std::string>* g_snap = nullptr;
thread_local size_t g_prefix = 0;
}  // namespace

std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  g_snap = &out;
  g_prefix = dir.size();
  ::nftw(
      dir.c_str(),
      [](const char* p, const struct stat* st, int, struct FTW*) {
        std::string rel = std::string(p).substr(g_prefix);
        rel = rel.empty() ? "." : rel.substr(1);
        std::string v;
        char type = S_ISREG(st->st_mode) ? 'f' : S_ISDIR(st->st_mode) ? 'd'
                  : S_ISLNK(st->st_mode) ? 'l' : S_ISCHR(st->st_mode) ? 'c'
                  : S_ISBLK(st->st_mode) ? 'b' : 'p';
        v += type;
        v += " " + std::to_string(st->st_mode & 07777) + " " + std::to_string(st->st_uid) + ":" +
             std::to_string(st->st_gid);
        if (type == 'f') {
          v += " " + std::to_string(st->st_size) + " " + backups::sha256_file(p);
        } else if (type == 'l') {
          char buf[4096];
          ssize_t n = ::readlink(p, buf, sizeof buf);
          v += " " + std::string(buf, static_cast<size_t>(n > 0 ? n : 0));
        } else if (type == 'c' || type == 'b') {
          v += " " + std::to_string(st->st_rdev);
        }
        (*g_snap)[rel] = v;
        return 0;
      },
      32, FTW_PHYS | FTW_MOUNT);
  g_snap = nullptr;
  return out;
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* de = ::readdir(d)) {
    std::string n = de->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

TmpfsMount::TmpfsMount(const std::string& size) {
  char tmpl[] = "/tmp/goodcop-tmpfs.XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  path_ = tmpl;
  std::string opts = "size=" + size + ",mode=0755";
  if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, opts.c_str()) < 0) {
    ::rmdir(path_.c_str());
    FAIL("mount tmpfs failed");
  }
}

TmpfsMount::~TmpfsMount() {
  ::umount2(path_.c_str(), MNT_DETACH);
  ::rmdir(path_.c_str());
}

void flip_byte(const std::string& path, long offset) {
  UniqueFd fd = open_fd(path, O_RDWR);
  off_t size = fstat_fd(fd.get()).st_size;
  off_t at = offset >= 0 ? offset : size + offset;
  REQUIRE(at >= 0);
  REQUIRE(at < size);
  unsigned char c = 0;
  REQUIRE(::pread(fd.get(), &c, 1, at) == 1);
  c ^= 0x01;
  REQUIRE(::pwrite(fd.get(), &c, 1, at) == 1);
}

}  // namespace goodcop::test
