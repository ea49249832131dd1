// Writing evidence bundles, the hash-chained evidence log, listing and retention.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <regex>

#include "backups/evidence.h"
#include "backups/evidence_collect.h"
#include "backups/evidence_sign.h"
#include "backups/fsops.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/scope_exit.h"
#include "base/version.h"

namespace goodcop::backups {
namespace {

using Clock = std::chrono::system_clock;

bool safe_token(const std::string& s, bool lower_only) {
  if (s.empty() || s.size() > 128 || s[0] == '.' || s[0] == '-') return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           (!lower_only && ((c >= 'A' && c <= 'Z') || c == '.' || c == '_'));
  });
}

// "2026-11-29T18:15:00.123Z" (iso) or "20261129T181500.123Z" (for file names).
std::string utc(Clock::time_point t, bool compact) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(ms / 1000);
  struct tm tm {};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, compact ? "%Y%m%dT%H%M%S" : "%Y-%m-%dT%H:%M:%S", &tm);
  char out[80];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) < 0) return "unknown";
  return buf;
}

void write_member(Archive& w, const std::string& name, const std::string& data,
                  std::string& sums, int64_t mtime) {
  write_blob_member(w, name, data, mtime, 0644);
  sums += sha256_hex(data) + "  " + name + "\n";
}

// Writes one collected path as `files/<path>`, its metadata as found.
void write_file_member(Archive& w, const CollectedFile& f, std::string& sums) {
  std::string name = f.path == "." ? "files" : "files/" + f.path;
  if (!f.note.empty() || f.type == 's' || f.type == 'c' || f.type == 'b' || f.type == 'p') return;
  EntryPtr e = new_entry();
  archive_entry_set_pathname(e.get(), name.c_str());
  archive_entry_set_perm(e.get(), static_cast<mode_t>(f.mode));
  archive_entry_set_uid(e.get(), f.uid);
  archive_entry_set_gid(e.get(), f.gid);
  archive_entry_set_mtime(e.get(), f.mtime_ns / 1'000'000'000, f.mtime_ns % 1'000'000'000);
  if (f.type == 'd') {
    archive_entry_set_filetype(e.get(), AE_IFDIR);
  } else if (f.type == 'l') {
    archive_entry_set_filetype(e.get(), AE_IFLNK);
    archive_entry_set_symlink(e.get(), f.link.c_str());
  } else {
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(f.data.size()));
  }
  w.check(archive_write_header(w.get(), e.get()), "evidence write", name, true);
  if (f.type == 'f') {
    size_t off = 0;
    while (off < f.data.size()) {
      la_ssize_t n = archive_write_data(w.get(), f.data.data() + off, f.data.size() - off);
      if (n <= 0) w.check(ARCHIVE_FATAL, "evidence write", name);
      off += static_cast<size_t>(n);
    }
    sums += sha256_hex(f.data) + "  " + name + "\n";
  }
}

void apply_retention(const std::string& dir, const std::string& jail, unsigned keep,
                     const std::string& just_written, std::vector<std::string>* removed) {
  if (keep == 0) return;
  std::vector<BundleRef> all = list_bundles(dir, jail);
  size_t excess = all.size() > keep ? all.size() - keep : 0;
  for (const auto& b : all) {
    if (excess == 0) break;
    if (b.path == just_written) continue;  // never the bundle just written
    if (::unlink(b.path.c_str()) == 0) removed->push_back(b.path);
    --excess;
  }
}

}  // namespace

std::string evidence_log_path(const std::string& dir, const std::string& jail) {
  return dir + "/" + jail + ".evidence.log";
}

bool parse_bundle_name(const std::string& name, BundleRef* out) {
  static const std::regex re(R"(^(.+)-(\d{8}T\d{6}\.\d{3}Z)-([a-z0-9-]+)\.tar(\.zst)?$)");
  std::smatch m;
  if (!std::regex_match(name, m, re)) return false;
  out->name = name;
  out->jail = m[1];
  out->time = m[2];
  out->trigger = m[3];
  return true;
}

std::vector<BundleRef> list_bundles(const std::string& dir, const std::string& jail) {
  std::vector<BundleRef> out;
  DIR* dp = ::opendir(dir.c_str());
  if (dp == nullptr) throw SysError("opendir", dir, errno);
  ScopeExit close_dir([&] { ::closedir(dp); });
  while (dirent* de = ::readdir(dp)) {
    BundleRef b;
    if (!parse_bundle_name(de->d_name, &b)) continue;
    if (!jail.empty() && b.jail != jail) continue;
    b.path = dir + "/" + b.name;
    out.push_back(std::move(b));
  }
  std::sort(out.begin(), out.end(), [](const BundleRef& a, const BundleRef& b) {
    return a.time != b.time ? a.time < b.time : a.name < b.name;
  });
  return out;
}

void append_evidence_log(const std::string& log, const std::string& bundle_name,
                         const std::string& sha256, const std::string& utc_time) {
  UniqueFd fd = open_fd(log, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW, 0600);
  // One writer at a time: the chain is only as good as its order.
  check(::flock(fd.get(), LOCK_EX), "flock", log);
  std::string text;
  {
    char buf[65536];
    off_t off = 0;
    for (;;) {
      ssize_t n = ::pread(fd.get(), buf, sizeof buf, off);
      if (n < 0 && errno == EINTR) continue;
      check(n, "read", log);
      if (n == 0) break;
      text.append(buf, static_cast<size_t>(n));
      off += n;
    }
  }
  uint64_t seq = 1;
  std::string prev(64, '0');
  if (!text.empty()) {
    if (text.back() != '\n') throw Error("evidence log '" + log + "': last line is incomplete");
    size_t start = text.rfind('\n', text.size() - 2);
    std::string last = text.substr(start == std::string::npos ? 0 : start + 1);
    last.pop_back();
    prev = sha256_hex(last);
    seq = static_cast<uint64_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  }
  std::string line = "v1 " + std::to_string(seq) + " " + utc_time + " " + bundle_name + " " +
                     sha256 + " " + prev;
  write_all(fd.get(), line + "\n", log);
  check(::fsync(fd.get()), "fsync", log);
}

std::vector<std::string> check_evidence_log(const std::string& log) {
  std::vector<std::string> problems;
  std::string text = read_file(log, 256u << 20);
  std::string prev(64, '0');
  uint64_t seq = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) {
      problems.push_back("evidence log: line " + std::to_string(seq + 1) + " is incomplete");
      break;
    }
    std::string line = text.substr(pos, nl - pos);
    ++seq;
    std::vector<std::string> f;
    for (size_t i = 0, j; i <= line.size(); i = j + 1) {
      j = line.find(' ', i);
      if (j == std::string::npos) j = line.size();
      f.push_back(line.substr(i, j - i));
    }
    if (f.size() != 6 || f[0] != "v1" || f[1] != std::to_string(seq)) {
      problems.push_back("evidence log: line " + std::to_string(seq) + " is malformed");
    } else if (f[5] != prev) {
      problems.push_back("evidence log: chain broken at line " + std::to_string(seq) +
                         " (previous line's hash differs)");
    }
    prev = sha256_hex(line);
    pos = nl + 1;
  }
  return problems;
}

BundleInfo write_bundle(const Incident& in, const EvidenceOptions& opts) {
  try {
    if (!safe_token(in.jail, false)) throw Error("invalid jail name '" + in.jail + "'");
    if (!safe_token(in.trigger, true)) throw Error("invalid trigger '" + in.trigger + "'");
    for (const auto& v : in.volatile_state) {
      if (!safe_token(v.name, false)) throw Error("invalid volatile state name '" + v.name + "'");
    }
    if (::mkdir(opts.dir.c_str(), 0700) < 0 && errno != EEXIST)
      throw SysError("mkdir", opts.dir, errno);
    open_fd(opts.dir, O_RDONLY | O_DIRECTORY);  // "Not a directory" said about the dir itself

    Clock::time_point collected = Clock::now();
    std::string ext = opts.compression == Compression::kZstd ? ".tar.zst" : ".tar";
    std::string name, path;
    for (int bump = 0;; ++bump) {
      name = in.jail + "-" + utc(collected + std::chrono::milliseconds(bump), true) + "-" +
             in.trigger + ext;
      path = opts.dir + "/" + name;
      struct stat st {};
      if (::lstat(path.c_str(), &st) < 0) {
        if (errno == ENOENT) break;
        throw SysError("lstat", path, errno);
      }
      if (bump > 1000) throw Error("no free bundle name in '" + opts.dir + "'");
    }

    CollectLimits limits{opts.max_file_bytes, opts.max_total_bytes, opts.max_files};
    std::vector<CollectedFile> files;
    if (!in.tree_root.empty()) files = collect_files(in.tree_root, in.paths, in.whole_tree, limits);

    // The bundle is written into a file with no name (O_TMPFILE) and linked into place only
    // when whole: a daemon killed while writing leaves nothing behind, where a named
    // temporary file stayed in the directory forever (the e2e crash test found one). A
    // filesystem without O_TMPFILE gets a named temporary file, removed on every error.
    std::string tmp = opts.dir + "/." + name + ".tmp";
    int raw = ::open(opts.dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    const bool named = raw < 0 && (errno == EOPNOTSUPP || errno == EISDIR);
    if (named) raw = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    UniqueFd out(check(raw, "open", named ? tmp : opts.dir));
    ScopeExit unlink_tmp([&] {
      if (named) ::unlink(tmp.c_str());
    });
    std::string sums;
    int64_t now = Clock::to_time_t(collected);
    {
      auto w = open_pax_writer(out.get(), opts.compression, path);
      nlohmann::json custody{
          {"format", "goodcop-evidence"},
          {"version", 1},
          {"jail", in.jail},
          {"host", hostname()},
          {"trigger", in.trigger},
          {"detected_at", utc(in.detected_at, false)},
          {"collected_at", utc(collected, false)},
          {"policy_digest", in.policy_digest},
          {"golden_digest", in.golden_digest},
          {"manifest_digest", in.manifest_digest},
          {"goodcop_version", kVersion},
          {"collector", in.collector},
          {"tree_root", in.tree_root},
          {"whole_tree", in.whole_tree},
      };
      Signed sig;
      if (!opts.signing_key.empty()) {
        // Sign a placeholder-free record: the public key goes into the custody record
        // (covered by SHA256SUMS), the signature over SHA256SUMS is the last member.
        sig = ed25519_sign(opts.signing_key, "");
        custody["signature"] = {{"algorithm", "ed25519"},
                                {"public_key_sha256", sig.public_key_sha256},
                                {"public_key_pem", sig.public_key_pem}};
      }
      write_member(*w, "custody.json", custody.dump(2) + "\n", sums, now);
      write_member(*w, "diff.json", in.diff_json.empty() ? "{}\n" : in.diff_json + "\n", sums, now);
      nlohmann::json index = nlohmann::json::array();
      for (const auto& f : files) index.push_back(file_json(f, f.type == 'f' ? sha256_hex(f.data) : ""));
      write_member(*w, "files.json", index.dump(2) + "\n", sums, now);
      for (const auto& f : files) write_file_member(*w, f, sums);
      for (const auto& v : in.volatile_state) write_member(*w, "volatile/" + v.name, v.data, sums, now);
      write_blob_member(*w, "SHA256SUMS", sums, now, 0644);
      if (!opts.signing_key.empty()) {
        Signed s = ed25519_sign(opts.signing_key, sums);
        write_blob_member(*w, "SIGNATURE", s.signature_hex + "\n", now, 0644);
      }
      w->check(archive_write_close(w->get()), "evidence close", path);
    }
    check(::fsync(out.get()), "fsync", path);
    check(::lseek(out.get(), 0, SEEK_SET), "lseek", path);
    BundleInfo info;
    info.sha256 = sha256_fd(out.get(), path);
    if (named) {
      check(::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE),
            "renameat2", path);
    } else {
      // linkat of an O_TMPFILE through /proc (AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH);
      // EEXIST, like RENAME_NOREPLACE, when a bundle of that name appeared meanwhile.
      const std::string self = "/proc/self/fd/" + std::to_string(out.get());
      check(::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW), "linkat",
            path);
    }
    out.reset();
    unlink_tmp.dismiss();
    fsync_dir(opts.dir);
    info.path = path;
    append_evidence_log(evidence_log_path(opts.dir, in.jail), name, info.sha256,
                        utc(collected, false));
    apply_retention(opts.dir, in.jail, opts.keep, path, &info.removed);
    return info;
  } catch (...) {
    rethrow_with_context("evidence for jail '" + in.jail + "'");
  }
}

}  // namespace goodcop::backups
