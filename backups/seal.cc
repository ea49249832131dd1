#include "backups/seal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "backups/fsops.h"
#include "backups/manifest_glue.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/parse.h"
#include "base/scope_exit.h"
#include "integrity/glob.h"

namespace goodcop::backups {
namespace {

struct ResolverDeleter {
  void operator()(archive_entry_linkresolver* r) const noexcept {
    archive_entry_linkresolver_free(r);
  }
};

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Copies the data of the current disk entry into the archive; holes are skipped by
// the pax writer's sparse map (fed as zero counts, never read from disk), so a 1 TiB
// sparse file costs its data, not its size.
void copy_file_data(Archive& rd, Archive& w, const std::string& path, const ExpectedEntry* x) {
  static const char zeros[1 << 20] = {};
  Sha256 h;
  uint64_t progress = 0;
  const void* buf = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  for (;;) {
    int rc = archive_read_data_block(rd.get(), &buf, &size, &offset);
    if (rc == ARCHIVE_EOF) break;
    rd.check(rc, "seal read", path, true);
    auto off = static_cast<uint64_t>(offset);
    if (off < progress) throw Error("seal: '" + path + "': overlapping data blocks");
    if (x != nullptr) h.update_zeros(off - progress);
    while (progress < off) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(off - progress, sizeof zeros));
      la_ssize_t k = archive_write_data(w.get(), zeros, n);
      if (k <= 0) w.check(ARCHIVE_FATAL, "seal write", path);
      progress += static_cast<uint64_t>(k);
    }
    if (x != nullptr) h.update(buf, size);
    size_t done = 0;
    while (done < size) {
      la_ssize_t k = archive_write_data(w.get(), static_cast<const char*>(buf) + done, size - done);
      if (k <= 0) w.check(ARCHIVE_FATAL, "seal write", path);
      done += static_cast<size_t>(k);
    }
    progress += size;
  }
  if (x != nullptr) {
    if (progress < x->size) h.update_zeros(x->size - progress);
    if (h.hex() != x->sha256)
      throw Error("seal: '" + path + "' changed while sealing (content differs from its manifest)");
  }
}

bool parse_version_name(const std::string& name, uint64_t* n) {
  auto dot = name.find('.');
  if (dot == std::string::npos || dot == 0) return false;
  std::string ext = name.substr(dot);
  if (ext != ".tar.zst" && ext != ".tar" && ext != ".tar.gz") return false;
  auto p = parse_uint(name.substr(0, dot), 1);
  if (!p) return false;
  *n = p.value;
  return true;
}

const char* extension(Compression c) {
  switch (c) {
    case Compression::kNone:
      return ".tar";
    case Compression::kZstd:
      return ".tar.zst";
    case Compression::kGzip:
      return ".tar.gz";
  }
  return ".tar";
}

}  // namespace

SealResult write_tree_archive(const std::string& dir, const std::string& archive,
                              std::string_view manifest_text, const ExpectedTree* expected,
                              const SealOptions& opts) {
  std::string root = dir;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  {
    UniqueFd d = open_fd(root, O_RDONLY | O_DIRECTORY);  // clear error when not a directory
  }
  std::string tmp = archive + ".tmp." + std::to_string(::getpid());
  UniqueFd out = open_fd(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
  ScopeExit unlink_tmp([&] { ::unlink(tmp.c_str()); });

  SealResult res;
  res.archive = archive;
  res.manifest_digest = sha256_hex(manifest_text);
  {
    auto w = open_pax_writer(out.get(), opts.compression, archive);
    write_blob_member(*w, kManifestMember, manifest_text, ::time(nullptr), 0600);

    Archive rd(Archive::Kind::kReadDisk);
    // Never follow symlinks, never leave the tree's filesystem, keep holes; no chattr
    // flags (an immutable file restored would block the next restore's cleanup).
    rd.check(archive_read_disk_set_symlink_physical(rd.get()), "seal", root);
    rd.check(archive_read_disk_set_behavior(
                 rd.get(), ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS | ARCHIVE_READDISK_NO_FFLAGS),
             "seal", root);
    rd.check(archive_read_disk_open(rd.get(), root.c_str()), "seal open", root);
    const integrity::IgnoreSet ignore(opts.ignore);
    std::unique_ptr<archive_entry_linkresolver, ResolverDeleter> lr(
        archive_entry_linkresolver_new());
    if (!lr) throw Error("seal: out of memory");
    archive_entry_linkresolver_set_strategy(lr.get(), archive_format(w->get()));

    for (;;) {
      EntryPtr e = new_entry();
      int rc = archive_read_next_header2(rd.get(), e.get());
      if (rc == ARCHIVE_EOF) break;
      rd.check(rc, "seal walk", root, true);
      std::string full = archive_entry_pathname(e.get());
      std::string rel;
      if (full == root)
        rel = ".";
      else if (full.size() > root.size() && full.compare(0, root.size(), root) == 0 &&
               (full[root.size()] == '/' || root == "/"))
        rel = full.substr(root == "/" ? 1 : root.size() + 1);
      else
        throw Error("seal: unexpected path '" + full + "' outside '" + root + "'");
      // Left out as the manifest's walk leaves it out: the entry and, for a directory,
      // everything below it (never descended into).
      if (rel != "." && ignore.matches(rel)) continue;
      if (archive_entry_filetype(e.get()) == AE_IFDIR)
        rd.check(archive_read_disk_descend(rd.get()), "seal descend", full, true);
      archive_entry_set_pathname(e.get(), rel.c_str());
      // Names, not numbers, would be remapped to the host's users on extraction.
      archive_entry_set_uname(e.get(), nullptr);
      archive_entry_set_gname(e.get(), nullptr);
      archive_entry* ep = e.get();
      archive_entry* spare = nullptr;
      archive_entry_linkify(lr.get(), &ep, &spare);  // tar strategy: edits ep in place
      const ExpectedEntry* x = nullptr;
      if (expected != nullptr) {
        auto it = expected->find(rel);
        if (it == expected->end())
          throw Error("seal: '" + rel + "' appeared while sealing (not in its manifest)");
        x = &it->second;
      }
      w->check(archive_write_header(w->get(), e.get()), "seal write header", rel, true);
      bool is_link = archive_entry_hardlink(e.get()) != nullptr;
      if (archive_entry_filetype(e.get()) == AE_IFREG && !is_link) copy_file_data(rd, *w, rel, x);
      w->check(archive_write_finish_entry(w->get()), "seal write", rel, true);
      ++res.entries;
    }
    w->check(archive_write_close(w->get()), "seal close", archive);
  }
  check(::fsync(out.get()), "fsync", tmp);
  res.bytes = static_cast<uint64_t>(fstat_fd(out.get(), tmp).st_size);
  check(::lseek(out.get(), 0, SEEK_SET), "lseek", tmp);
  out = open_fd(tmp, O_RDONLY);
  res.sha256 = sha256_fd(out.get(), tmp);
  out.reset();
  check(::rename(tmp.c_str(), archive.c_str()), "rename", archive);
  unlink_tmp.dismiss();
  write_file_atomic(archive + ".sha256", res.sha256 + "  " + base_of(archive) + "\n");
  fsync_dir(dir_of(archive));
  return res;
}

SealResult seal(const std::string& dir, const std::string& archive, const SealOptions& opts) {
  try {
    (void)integrity::IgnoreSet(opts.ignore);  // a bad glob is refused before any work
    TreeManifest m = build_tree_manifest(dir, opts.ignore);
    return write_tree_archive(dir, archive, m.text, &m.expected, opts);
  } catch (...) {
    rethrow_with_context("seal '" + dir + "'");
  }
}

std::string read_recorded_digest(const std::string& archive) {
  std::string text;
  try {
    text = read_file(archive + ".sha256", 4096);
  } catch (const SysError& e) {
    throw Error("archive '" + archive + "': no recorded digest ('" + archive +
                ".sha256': " + std::strerror(e.code()) + ")");
  }
  std::string hex = text.substr(0, std::min<size_t>(64, text.size()));
  bool ok = hex.size() == 64 && std::all_of(hex.begin(), hex.end(), [](char c) {
              return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
            });
  if (!ok) throw Error("archive '" + archive + "': invalid digest file '" + archive + ".sha256'");
  return hex;
}

std::string verify_archive_digest(const std::string& archive, const std::string& expected) {
  std::string want = expected.empty() ? read_recorded_digest(archive) : expected;
  std::string got = sha256_file(archive);
  if (got != want)
    throw Error("archive '" + archive + "': sha256 mismatch (expected " + want + ", found " + got +
                "): damaged or swapped, refused");
  return got;
}

std::string read_manifest_member(const std::string& archive, uint64_t max_bytes) {
  UniqueFd fd = open_fd(archive, O_RDONLY | O_NOCTTY);
  auto r = open_tar_reader(fd.get(), archive);
  archive_entry* e = nullptr;
  int rc = archive_read_next_header(r->get(), &e);
  if (rc == ARCHIVE_EOF) throw Error("archive '" + archive + "': empty");
  r->check(rc, "archive read", archive, true);
  const char* name = archive_entry_pathname(e);
  if (name == nullptr || std::string(name) != kManifestMember)
    throw Error("archive '" + archive + "': first member is not '" + kManifestMember + "'");
  return read_member_data(*r, max_bytes, kManifestMember);
}

std::vector<GoldenVersion> golden_list(const std::string& golden) {
  std::vector<GoldenVersion> out;
  UniqueFd d = open_fd(golden, O_RDONLY | O_DIRECTORY);
  DIR* dp = ::fdopendir(d.get());
  if (dp == nullptr) throw SysError("fdopendir", golden, errno);
  d.release();
  ScopeExit close_dir([&] { ::closedir(dp); });
  std::string cur;
  char buf[256];
  ssize_t n = ::readlink((golden + "/current").c_str(), buf, sizeof buf - 1);
  if (n > 0) cur.assign(buf, static_cast<size_t>(n));
  while (dirent* de = ::readdir(dp)) {
    uint64_t v = 0;
    std::string name = de->d_name;
    if (!parse_version_name(name, &v)) continue;
    out.push_back({v, golden + "/" + name, name == cur});
  }
  std::sort(out.begin(), out.end(),
            [](const GoldenVersion& a, const GoldenVersion& b) { return a.number < b.number; });
  return out;
}

std::string golden_current(const std::string& golden) {
  char buf[256];
  ssize_t n = ::readlink((golden + "/current").c_str(), buf, sizeof buf - 1);
  if (n < 0) throw SysError("readlink", golden + "/current", errno);
  std::string name(buf, static_cast<size_t>(n));
  uint64_t v = 0;
  if (!parse_version_name(name, &v))
    throw Error("golden '" + golden + "': 'current' points to '" + name + "', not a version");
  return golden + "/" + name;
}

void golden_set_current(const std::string& golden, uint64_t number) {
  for (const auto& v : golden_list(golden)) {
    if (v.number != number) continue;
    std::string tmp = golden + "/.current.tmp." + std::to_string(::getpid());
    ::unlink(tmp.c_str());
    check(::symlink(base_of(v.path).c_str(), tmp.c_str()), "symlink", tmp);
    ScopeExit unlink_tmp([&] { ::unlink(tmp.c_str()); });
    check(::rename(tmp.c_str(), (golden + "/current").c_str()), "rename", golden + "/current");
    unlink_tmp.dismiss();
    fsync_dir(golden);
    return;
  }
  throw Error("golden '" + golden + "': no version " + std::to_string(number));
}

GoldenVersion golden_seal(const std::string& dir, const std::string& golden,
                          const SealOptions& opts) {
  if (::mkdir(golden.c_str(), 0700) < 0 && errno != EEXIST) throw SysError("mkdir", golden, errno);
  uint64_t next = 1;
  for (const auto& v : golden_list(golden)) next = std::max(next, v.number + 1);
  std::string path = golden + "/" + std::to_string(next) + extension(opts.compression);
  seal(dir, path, opts);
  golden_set_current(golden, next);
  return {next, path, true};
}

}  // namespace goodcop::backups
