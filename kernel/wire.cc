#include "kernel/wire.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"

namespace goodcop::kernel {
namespace {

// Length-prefixed fields. Limits and addresses stay with the starter, which applies them
// (cgroup, veth); the setup mode never needs them. the setup mode trusts its parent but still
// checks bounds.
class Writer {
 public:
  void u64(uint64_t v) { out_.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void str(std::string_view s) {
    u64(s.size());
    out_.append(s);
  }
  void strs(const std::vector<std::string>& v) {
    u64(v.size());
    for (const auto& s : v) str(s);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  uint64_t u64() {
    uint64_t v = 0;
    need(sizeof v);
    std::memcpy(&v, in_.data(), sizeof v);
    in_.remove_prefix(sizeof v);
    return v;
  }
  uint32_t u32() { return static_cast<uint32_t>(u64()); }
  bool flag() { return u64() != 0; }
  std::string str() {
    uint64_t n = u64();
    need(n);
    std::string s(in_.substr(0, n));
    in_.remove_prefix(n);
    return s;
  }
  std::vector<std::string> strs() {
    uint64_t n = u64();
    if (n > 65536) throw Error("jail setup: malformed spec");
    std::vector<std::string> v;
    for (uint64_t i = 0; i < n; ++i) v.push_back(str());
    return v;
  }
  bool done() const { return in_.empty(); }

 private:
  void need(uint64_t n) const {
    if (n > in_.size()) throw Error("jail setup: malformed spec");
  }
  std::string_view in_;
};

void copy_trunc(char* dst, size_t cap, const char* src) noexcept {
  size_t i = 0;
  if (src != nullptr)
    for (; i + 1 < cap && src[i] != '\0'; ++i) dst[i] = src[i];
  dst[i] = '\0';
}

void write_record(int fd, const Report& r) noexcept {
  ssize_t n;
  do {
    n = ::write(fd, &r, sizeof r);
  } while (n < 0 && errno == EINTR);
}

}  // namespace

std::string encode_spec(const JailSpec& s) {
  Writer w;
  w.str(kWireMagic);
  w.str(s.name);
  w.str(s.root);
  w.u64(s.read_only_root);
  w.u64(s.private_tmp);
  w.str(s.hostname);
  w.u64(static_cast<uint64_t>(s.net));
  w.strs(s.argv);
  w.strs(s.env);
  w.str(s.cwd);
  w.u64(s.uid);
  w.u64(s.gid);
  w.u64(s.groups.size());
  for (uint32_t g : s.groups) w.u64(g);
  w.u64(s.binds.size());
  for (const Bind& b : s.binds) {
    w.str(b.source);
    w.str(b.target);
    w.u64(b.writable);
  }
  w.u64(s.userns);
  w.u64(host_id_base(s));
  w.u64(s.capabilities);
  w.u64(static_cast<uint64_t>(s.init));
  w.u64(s.die_with_parent);
  return w.take();
}

JailSpec decode_spec(std::string_view bytes) {
  Reader r(bytes);
  // goodcop and goodcop-jail-helper are two files: after an upgrade of one of them, a
  // running goodcop could exec a helper of another version.
  if (r.str() != kWireMagic)
    throw Error(
        "jail setup: spec from another goodcop version (goodcop-jail-helper does not "
        "match goodcop)");
  JailSpec s;
  s.name = r.str();
  s.root = r.str();
  s.read_only_root = r.flag();
  s.private_tmp = r.flag();
  s.hostname = r.str();
  s.net = static_cast<NetMode>(r.u64() % 3);
  s.argv = r.strs();
  s.env = r.strs();
  s.cwd = r.str();
  s.uid = r.u32();
  s.gid = r.u32();
  uint64_t ng = r.u64();
  if (ng > 65536) throw Error("jail setup: malformed spec");
  for (uint64_t i = 0; i < ng; ++i) s.groups.push_back(r.u32());
  uint64_t nb = r.u64();
  if (nb > 64) throw Error("jail setup: malformed spec");
  for (uint64_t i = 0; i < nb; ++i) {
    Bind b;
    b.source = r.str();
    b.target = r.str();
    b.writable = r.flag();
    s.binds.push_back(std::move(b));
  }
  s.userns = r.flag();
  s.host_id_base = r.u32();
  s.capabilities = r.u64();
  s.init = static_cast<InitMode>(r.u64() % 2);
  s.die_with_parent = r.flag();
  if (!r.done()) throw Error("jail setup: malformed spec");
  return s;
}

void report_failure(int fd, const char* op, const char* path, int err) noexcept {
  Report r;
  r.kind = Report::kFailure;
  r.err = err;
  copy_trunc(r.op, sizeof r.op, op);
  copy_trunc(r.path, sizeof r.path, path);
  write_record(fd, r);
}

void report_pid(int fd, pid_t pid) noexcept {
  Report r;
  r.kind = Report::kPid;
  r.pid = pid;
  write_record(fd, r);
}

void report_status(int sock, int code) noexcept {
  const char rec[2] = {'x', static_cast<char>(static_cast<unsigned char>(code))};
  while (::send(sock, rec, sizeof rec, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

std::optional<int> read_status(int sock) {
  unsigned char rec[2] = {};
  size_t got = 0;
  while (got < sizeof rec) {
    ssize_t n = ::read(sock, rec + got, sizeof rec - got);
    if (n < 0 && errno == EINTR) continue;
    check(n, "read", "status socket");
    if (n == 0) return std::nullopt;
    got += static_cast<size_t>(n);
  }
  if (rec[0] != 'x') return std::nullopt;
  return rec[1];
}

std::string read_all(int fd, size_t max_bytes) {
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    check(n, "read", "config pipe");
    if (n == 0) return out;
    if (out.size() + static_cast<size_t>(n) > max_bytes)
      throw SysError("read", "config pipe", EFBIG);
    out.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace goodcop::kernel
