// The extraction helper: `goodcop __backups-extract PPID OPTS ARCHIVE TARGET REPORT HOLD`,
// a fresh single-threaded process (exec'd, not merely forked) in which libarchive may
// change the umask (CVE-2023-30571) and allocate freely.
#include "backups/extract_helper.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "backups/spawn.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/parse.h"

namespace goodcop::backups {
namespace {

constexpr uint32_t kWireVersion = 0x67630001;  // "gc", version 1

class WireWriter {
 public:
  void u64(uint64_t v) { out_.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void str(std::string_view s) {
    u64(s.size());
    out_.append(s);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class WireReader {
 public:
  explicit WireReader(std::string_view d) : d_(d) {}
  uint64_t u64() {
    uint64_t v = 0;
    need(sizeof v);
    std::memcpy(&v, d_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  uint32_t u32() {
    uint64_t v = u64();
    if (v > UINT32_MAX) bad();
    return static_cast<uint32_t>(v);
  }
  std::string str() {
    uint64_t n = u64();
    need(n);
    std::string s(d_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  bool done() const { return pos_ == d_.size(); }

 private:
  void need(uint64_t n) {
    if (n > d_.size() - pos_) bad();
  }
  [[noreturn]] static void bad() { throw Error("extract helper: malformed options"); }
  std::string_view d_;
  size_t pos_ = 0;
};

std::string read_fd_all(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    check(n, "read", "extract options");
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

int fd_arg(const char* s) {
  auto p = parse_uint(s, 0, 1 << 20);
  if (!p) throw Error(std::string("extract helper: bad fd '") + s + "'");
  return static_cast<int>(p.value);
}

}  // namespace

std::string encode_extract_options(const ExtractOptions& o, const std::string& what) {
  WireWriter w;
  w.u64(kWireVersion);
  w.str(what);
  w.u64(o.limits.max_entries);
  w.u64(o.limits.max_bytes);
  w.u64(o.limits.max_path);
  w.u64((o.skip_manifest_member ? 1u : 0u) | (o.dry_run ? 2u : 0u) |
        (o.expected != nullptr ? 4u : 0u));
  if (o.expected != nullptr) {
    w.u64(o.expected->size());
    for (const auto& [path, x] : *o.expected) {
      w.str(path);
      w.u64(static_cast<unsigned char>(x.type));
      w.u64(x.mode);
      w.u64(x.uid);
      w.u64(x.gid);
      w.u64(x.size);
      w.str(x.sha256);
      w.str(x.link);
      w.u64(x.rdev);
    }
  }
  return w.take();
}

void decode_extract_options(std::string_view data, HelperOptions& out) {
  WireReader r(data);
  if (r.u64() != kWireVersion) throw Error("extract helper: options of another goodcop version");
  out.what = r.str();
  out.opts = {};
  out.opts.limits.max_entries = r.u64();
  out.opts.limits.max_bytes = r.u64();
  out.opts.limits.max_path = r.u64();
  uint64_t flags = r.u64();
  out.opts.skip_manifest_member = (flags & 1u) != 0;
  out.opts.dry_run = (flags & 2u) != 0;
  out.tree.clear();
  if ((flags & 4u) != 0) {
    uint64_t n = r.u64();
    for (uint64_t i = 0; i < n; ++i) {
      std::string path = r.str();
      ExpectedEntry x;
      x.type = static_cast<char>(r.u32());
      x.mode = r.u32();
      x.uid = r.u32();
      x.gid = r.u32();
      x.size = r.u64();
      x.sha256 = r.str();
      x.link = r.str();
      x.rdev = r.u64();
      out.tree.emplace_hint(out.tree.end(), std::move(path), std::move(x));
    }
    out.opts.expected = &out.tree;
  }
  if (!r.done()) throw Error("extract helper: malformed options");
}

int extract_helper_main(int argc, char** argv) {
  if (argc != 8) return 2;
  int report = -1;
  try {
    report = fd_arg(argv[6]);
    auto ppid = parse_uint(argv[2], 1, INT32_MAX);
    if (!ppid) return 2;
    // Die with the restore that started us: a SIGKILLed restore must not leave a writer
    // in its staging tree. Checked after the prctl, or an early parent death is missed.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != static_cast<pid_t>(ppid.value)) return 3;
    int opts_fd = fd_arg(argv[3]), archive_fd = fd_arg(argv[4]), target_fd = fd_arg(argv[5]);
    // The starter cleared O_CLOEXEC on these to pass them; nothing we start gets them.
    for (int fd : {opts_fd, archive_fd, target_fd, report}) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    HelperOptions h;
    decode_extract_options(read_fd_all(opts_fd), h);
    ::close(opts_fd);
    check(::fchdir(target_fd), "fchdir", "extraction target");
    ::close(target_fd);
    ::umask(022);
    ExtractStats st = extract_from_fd(archive_fd, h.what, h.opts);
    write_all(report, "ok " + std::to_string(st.entries) + " " + std::to_string(st.bytes),
              "extract report pipe");
    return 0;
  } catch (const std::exception& e) {
    try {
      if (report >= 0) write_all(report, std::string("error ") + e.what(), "extract report pipe");
    } catch (...) {
    }
  }
  return 1;
}

std::optional<int> run_internal_mode(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], kExtractMode) != 0) return std::nullopt;
  return extract_helper_main(argc, argv);
}

}  // namespace goodcop::backups
