#include "backups/extract.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <set>
#include <string_view>

#include "backups/archive.h"
#include "backups/extract_helper.h"
#include "backups/spawn.h"
#include "base/error.h"
#include "base/fd.h"

namespace goodcop::backups {
namespace {

char type_of(mode_t ft) {
  switch (ft) {
    case AE_IFREG:
      return 'f';
    case AE_IFDIR:
      return 'd';
    case AE_IFLNK:
      return 'l';
    case AE_IFCHR:
      return 'c';
    case AE_IFBLK:
      return 'b';
    case AE_IFIFO:
      return 'p';
    case AE_IFSOCK:
      return 's';
    default:
      return '?';
  }
}

const char* type_word(char t) {
  switch (t) {
    case 'f':
      return "file";
    case 'd':
      return "directory";
    case 'l':
      return "symlink";
    case 'c':
      return "character device";
    case 'b':
      return "block device";
    case 'p':
      return "fifo";
    case 's':
      return "socket";
    default:
      return "unknown type";
  }
}

std::string octal(uint32_t m) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", m);
  return buf;
}

[[noreturn]] void refuse(const std::string& path, const std::string& why) {
  throw Error("member '" + path + "': " + why);
}

// The extraction proper; runs in the helper process only.
class Extractor {
 public:
  Extractor(const ExtractOptions& o, int archive_fd, const std::string& what)
      : opts_(o),
        what_(what),
        reader_(open_tar_reader(archive_fd, what)),
        disk_(Archive::Kind::kWriteDisk) {
    // Owners, exact modes, times, xattrs, ACLs and holes restored; the SECURE_*
    // flags are libarchive's own line of defence, ours are in check_member().
    int flags = ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_SPARSE |
                ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;
    disk_.check(archive_write_disk_set_options(disk_.get(), flags), "extract options", what_);
    // No user/group name lookup: the jail's numeric ids are what the tree means.
  }

  ExtractStats run() {
    archive_entry* e = nullptr;
    bool first = true;
    for (;;) {
      int rc = archive_read_next_header(reader_->get(), &e);
      if (rc == ARCHIVE_EOF) break;
      reader_->check(rc, "archive read", what_, true);
      if (first && opts_.skip_manifest_member) {
        first = false;
        std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
        if (name != kManifestMember)
          throw Error("archive '" + what_ + "': first member is not '" + kManifestMember + "'");
        continue;
      }
      first = false;
      extract_one(e);
    }
    if (opts_.expected != nullptr) {
      for (const auto& [path, exp] : *opts_.expected) {
        if (!seen_.count(path))
          throw Error("manifest entry '" + path + "' missing from the archive");
      }
    }
    if (!opts_.dry_run) disk_.check(archive_write_close(disk_.get()), "extract close", what_, true);
    return stats_;
  }

 private:
  void extract_one(archive_entry* e) {
    if (++stats_.entries > opts_.limits.max_entries)
      throw Error("archive '" + what_ + "': more than " + std::to_string(opts_.limits.max_entries) +
                  " entries (refused as a tar bomb)");
    const char* raw = archive_entry_pathname(e);
    std::string name = raw != nullptr ? raw : "";
    if (name.size() > opts_.limits.max_path) refuse(name.substr(0, 64) + "...", "path too long");
    std::string path = normalize_member_path(name);
    if (path.empty()) refuse(name, "unsafe path (absolute or with '..')");
    if (!seen_.insert(path).second) refuse(path, "appears twice");
    // A parent that is a symlink would make the write land wherever it points.
    for (size_t i = path.find('/'); i != std::string::npos; i = path.find('/', i + 1)) {
      if (symlinks_.count(path.substr(0, i))) refuse(path, "below a symlink");
    }
    const char* hl = archive_entry_hardlink(e);
    std::string link_target;
    if (hl != nullptr) {
      link_target = normalize_member_path(hl);
      if (link_target.empty() || !files_.count(link_target))
        refuse(path, std::string("hard link to '") + hl + "' outside the extracted tree");
      archive_entry_set_hardlink(e, link_target.c_str());
      // tar's link entries carry no file type; the target is a regular file (files_).
      archive_entry_set_filetype(e, AE_IFREG);
    }
    // The root stays the target directory: a "." symlink would redirect everything after it.
    if (path == "." && archive_entry_filetype(e) != AE_IFDIR)
      refuse(path, "the root must be a directory");
    check_member(e, path, link_target);
    archive_entry_set_pathname(e, path.c_str());
    if (!opts_.dry_run) disk_.check(archive_write_header(disk_.get(), e), "extract", path);
    char t = type_of(archive_entry_filetype(e));
    if (t == 'l') symlinks_.insert(path);
    if (t == 'f') files_.insert(path);
    if (t == 'f' && (hl == nullptr || archive_entry_size(e) > 0)) copy_data(path);
    if (!opts_.dry_run) disk_.check(archive_write_finish_entry(disk_.get()), "extract", path, true);
  }

  void check_member(archive_entry* e, const std::string& path, const std::string& hardlink) {
    char t = type_of(archive_entry_filetype(e));
    auto perm = static_cast<uint32_t>(archive_entry_mode(e) & 07777);
    if (opts_.expected == nullptr) {
      if (t == 'c' || t == 'b') refuse(path, "device node not in a manifest");
      if (t == '?') refuse(path, "unknown file type");
      if ((perm & (S_ISUID | S_ISGID)) != 0 && t != 'd')
        refuse(path, "setuid/setgid file not in a manifest");
      return;
    }
    auto it = opts_.expected->find(path);
    if (it == opts_.expected->end()) refuse(path, "not in the manifest");
    const ExpectedEntry& x = it->second;
    if (t != x.type)
      refuse(path,
             std::string("is a ") + type_word(t) + ", the manifest says " + type_word(x.type));
    if (perm != x.mode)
      refuse(path, "mode " + octal(perm) + ", the manifest says " + octal(x.mode));
    auto uid = static_cast<uint64_t>(archive_entry_uid(e));
    auto gid = static_cast<uint64_t>(archive_entry_gid(e));
    if (uid != x.uid || gid != x.gid)
      refuse(path, "owner " + std::to_string(uid) + ":" + std::to_string(gid) +
                       ", the manifest says " + std::to_string(x.uid) + ":" +
                       std::to_string(x.gid));
    if (t == 'l') {
      const char* target = archive_entry_symlink(e);
      if (target == nullptr || x.link != target)
        refuse(path, "symlink target differs from the manifest");
    }
    if ((t == 'c' || t == 'b') && static_cast<uint64_t>(archive_entry_rdev(e)) != x.rdev)
      refuse(path, "device number differs from the manifest");
    if (t == 'f' && !hardlink.empty()) {
      auto target = opts_.expected->find(hardlink);
      if (target == opts_.expected->end() || target->second.sha256 != x.sha256)
        refuse(path, "hard link to '" + hardlink + "' whose content differs from the manifest");
    }
  }

  void copy_data(const std::string& path) {
    const ExpectedEntry* x = nullptr;
    if (opts_.expected != nullptr) x = &opts_.expected->at(path);
    Sha256 h;
    uint64_t done = 0;  // logical position, for hashing holes as zeros
    const void* buf = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    for (;;) {
      int rc = archive_read_data_block(reader_->get(), &buf, &size, &offset);
      if (rc == ARCHIVE_EOF) break;
      reader_->check(rc, "archive read", path, true);
      if (offset < 0 || static_cast<uint64_t>(offset) < done)
        refuse(path, "overlapping data blocks");
      stats_.bytes += size;
      if (stats_.bytes > opts_.limits.max_bytes)
        throw Error("archive '" + what_ + "': more than " + std::to_string(opts_.limits.max_bytes) +
                    " bytes of data (refused as a tar bomb)");
      if (x != nullptr) {
        if (static_cast<uint64_t>(offset) + size > x->size)
          refuse(path, "larger than the manifest says");
        h.update_zeros(static_cast<uint64_t>(offset) - done);
        h.update(buf, size);
      }
      done = static_cast<uint64_t>(offset) + size;
      if (opts_.dry_run) continue;
      la_ssize_t w = archive_write_data_block(disk_.get(), buf, size, offset);
      if (w < 0) disk_.check(static_cast<int>(w), "extract write", path, true);
    }
    if (x != nullptr) {
      if (done < x->size) h.update_zeros(x->size - done);
      if (h.hex() != x->sha256) refuse(path, "content differs from the manifest (sha256)");
    }
  }

  const ExtractOptions& opts_;
  std::string what_;
  std::unique_ptr<Archive> reader_;
  Archive disk_;
  ExtractStats stats_;
  std::set<std::string> seen_, symlinks_, files_;
};

}  // namespace

std::string normalize_member_path(const std::string& name) {
  if (name.empty() || name[0] == '/') return "";
  std::string out;
  size_t i = 0;
  while (i <= name.size()) {
    size_t j = name.find('/', i);
    if (j == std::string::npos) j = name.size();
    std::string_view comp(name.data() + i, j - i);
    if (comp == "..") return "";
    if (!comp.empty() && comp != ".") {
      if (!out.empty()) out += '/';
      out.append(comp);
    }
    i = j + 1;
  }
  return out.empty() ? "." : out;
}

ExtractStats extract_from_fd(int archive_fd, const std::string& what, const ExtractOptions& opts) {
  Extractor x(opts, archive_fd, what);
  return x.run();
}

ExtractStats extract_archive(const std::string& archive, const std::string& target,
                             const ExtractOptions& opts) {
  // Everything the helper needs is opened and written before it starts (spawn.h).
  UniqueFd afd = open_fd(archive, O_RDONLY | O_NOCTTY);
  UniqueFd tfd = open_fd(target, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  UniqueFd ofd(check(::memfd_create("goodcop-extract", MFD_CLOEXEC), "memfd_create", archive));
  write_all(ofd.get(), encode_extract_options(opts, archive), "extract options");
  check(::lseek(ofd.get(), 0, SEEK_SET), "lseek", "extract options");
  int p[2];
  check(::pipe2(p, O_CLOEXEC), "pipe2", "extract report");
  UniqueFd rd(p[0]), wr(p[1]);
  std::string helper = helper_binary();
  SpawnOptions so;
  so.pass_fds = {ofd.get(), afd.get(), tfd.get(), wr.get()};
  if (opts.hold_fd >= 0) so.pass_fds.push_back(opts.hold_fd);
  pid_t pid =
      spawn_program({helper, kExtractMode, std::to_string(::getpid()), std::to_string(ofd.get()),
                     std::to_string(afd.get()), std::to_string(tfd.get()), std::to_string(wr.get()),
                     std::to_string(opts.hold_fd)},
                    so);
  wr.reset();
  std::string msg;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || msg.size() > (1u << 20)) break;
    msg.append(buf, static_cast<size_t>(n));
  }
  int status = wait_program(pid, "extract helper");
  if (msg.rfind("ok ", 0) == 0 && status == 0) {
    ExtractStats st;
    unsigned long long a = 0, b = 0;
    if (std::sscanf(msg.c_str() + 3, "%llu %llu", &a, &b) == 2) {
      st.entries = a;
      st.bytes = b;
    }
    return st;
  }
  if (msg.rfind("error ", 0) == 0) throw Error("extract '" + archive + "': " + msg.substr(6));
  if (status > 128)
    throw Error("extract '" + archive + "': helper killed by signal " +
                std::to_string(status - 128));
  throw Error("extract '" + archive + "': helper '" + helper + "' failed without a reason (exit " +
              std::to_string(status) + ")");
}

}  // namespace goodcop::backups
