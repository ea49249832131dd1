// Reading the manifest text form, version 1 (docs/manifest.md; write.cc writes
// it). An mtree(5) file that libarchive reads (bsdtar -tf): standard keywords on
// entry lines, goodcop's extensions (ctime, xattrs) on "#+" comment lines that
// mtree readers skip, and a final "#goodcop-sha256" line over every byte before it.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "base/parse.h"
#include "integrity/hash.h"
#include "integrity/manifest.h"
#include "integrity/text_form.h"

namespace goodcop::integrity {
namespace {

using text::kDigestPrefix;
using text::kExtPrefix;
using text::kIgnorePrefix;
using text::kMagic;
using text::kVersionLine;
using text::kVersionPrefix;

// Parse state: the current line number for messages.
struct Parser {
  const ManifestLimits& limits;
  size_t line_no = 0;

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(fmt::format("manifest: line {}: {}", line_no, what));
  }

  std::string unescape(std::string_view s) const {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
      char c = s[i];
      if (c != '\\') {
        // Canonical form only: a byte the writer escapes must come escaped.
        if (needs_escape(c)) fail("unescaped byte in '" + escape_name(s) + "'");
        out += c;
        continue;
      }
      if (i + 3 >= s.size() + 1) fail("bad escape in '" + escape_name(s) + "'");
      int v = 0;
      for (size_t k = 1; k <= 3; ++k) {
        char d = s[i + k];
        if (d < '0' || d > '7') fail("bad escape in '" + escape_name(s) + "'");
        v = v * 8 + (d - '0');
      }
      if (v > 255 || !needs_escape(static_cast<char>(v))) fail("bad escape in '" + escape_name(s) + "'");
      out += static_cast<char>(v);
      i += 3;
    }
    return out;
  }

  static bool needs_escape(char ch) { return text::needs_escape(ch); }

  uint64_t number(std::string_view key, std::string_view v, uint64_t max = UINT64_MAX) const {
    // Canonical decimal only (what the writer produces): digits, no leading zero.
    if (v.empty() || v.size() > 20 || (v[0] == '0' && v.size() > 1) ||
        v.find_first_not_of("0123456789") != std::string_view::npos)
      fail(fmt::format("{}: expected a decimal number", key));
    // Fast path for the common short number; parse_uint() words the errors.
    if (!v.empty() && v.size() <= 18 && (v[0] != '0' || v.size() == 1)) {
      uint64_t n = 0;
      bool ok = true;
      for (char c : v) {
        if (c < '0' || c > '9') {
          ok = false;
          break;
        }
        n = n * 10 + static_cast<uint64_t>(c - '0');
      }
      if (ok && n <= max) return n;
    }
    auto r = parse_uint(v, 0, max);
    if (!r) fail(fmt::format("{}: {}", key, r.error));
    return r.value;
  }

  int64_t time(std::string_view key, std::string_view v) const {
    bool neg = !v.empty() && v[0] == '-';
    if (neg) v.remove_prefix(1);
    auto dot = v.find('.');
    if (dot == std::string_view::npos || v.size() - dot - 1 != 9)
      fail(std::string(key) + ": expected seconds and nine digits of nanoseconds");
    uint64_t sec = number(key, v.substr(0, dot), INT64_MAX / 1'000'000'000 - 1);
    uint64_t ns = 0;
    for (char c : v.substr(dot + 1)) {
      if (c < '0' || c > '9') fail(std::string(key) + ": expected seconds and nine digits of nanoseconds");
      ns = ns * 10 + static_cast<uint64_t>(c - '0');
    }
    if (neg && sec == 0) fail(std::string(key) + ": negative zero seconds");  // the writer says "-1.5..." for -0.5 s
    auto s = static_cast<int64_t>(sec);
    return (neg ? -s : s) * 1'000'000'000 + static_cast<int64_t>(ns);
  }

  static int nibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  }

  // Decodes lower-case hex into out (out.size() == v.size() / 2).
  void unhex_into(std::string_view key, std::string_view v, char* out) const {
    for (size_t i = 0; i + 1 < v.size(); i += 2) {
      int hi = nibble(v[i]), lo = nibble(v[i + 1]);
      if (hi < 0 || lo < 0) fail(escape_name(key) + ": expected lower-case hex digits");
      out[i / 2] = static_cast<char>(hi * 16 + lo);
    }
  }

  std::string unhex(std::string_view key, std::string_view v) const {
    if (v.size() % 2 != 0) fail(escape_name(key) + ": expected hex digits");
    std::string out(v.size() / 2, '\0');
    unhex_into(key, v, out.data());
    return out;
  }

  std::string rel_path(std::string_view tok) const {
    if (tok == ".") return {};
    if (tok.substr(0, 2) != "./") fail("path '" + escape_name(tok) + "' does not start with './'");
    std::string p = unescape(tok.substr(2));
    if (p.size() > limits.max_path) fail("path longer than " + std::to_string(limits.max_path));
    size_t start = 0;
    for (;;) {
      size_t slash = p.find('/', start);
      std::string_view comp(p.data() + start, (slash == std::string::npos ? p.size() : slash) - start);
      if (comp.empty() || comp == "." || comp == ".." || comp.find('\0') != std::string_view::npos)
        fail("bad path '" + escape_name(tok) + "'");
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    return p;
  }
};

// Splits on single spaces; an empty word (two spaces, a leading or trailing
// one) is kept, so the caller refuses it: the writer never produces one.
void split_words(std::string_view line, std::vector<std::string_view>& words) {
  words.clear();
  size_t i = 0;
  for (;;) {
    size_t sp = line.find(' ', i);
    if (sp == std::string_view::npos) {
      words.push_back(line.substr(i));
      return;
    }
    words.push_back(line.substr(i, sp - i));
    i = sp + 1;
  }
}

}  // namespace

Manifest parse_manifest(std::string_view text, const ManifestLimits& limits) {
  if (text.size() > limits.max_bytes) throw Error("manifest: larger than the limit");
  // The digest first: nothing of a damaged manifest is interpreted.
  if (text.empty() || text.back() != '\n') throw Error("manifest: truncated (no final newline)");
  size_t last_start = text.rfind('\n', text.size() - 2);
  last_start = last_start == std::string_view::npos ? 0 : last_start + 1;
  std::string_view last = text.substr(last_start, text.size() - 1 - last_start);
  if (last.substr(0, kDigestPrefix.size()) != kDigestPrefix)
    throw Error("manifest: truncated (no digest line at the end)");
  std::string_view body = text.substr(0, last_start);
  if (last.substr(kDigestPrefix.size()) != hex(sha256_of(body)))
    throw Error("manifest: digest mismatch (the manifest is damaged)");

  Parser ps{limits};
  Manifest m;
  std::vector<std::string_view> words;
  m.reserve(body.size() / 160 + 1, body.size() / 3);  // 200-260 bytes per entry, a quarter of it the path
  std::string last_parent;  // consecutive entries mostly share a parent: one lookup per directory
  std::string prev_path;
  bool have_entry = false, have_ext = false;
  Entry cur{};
  std::string cur_path, cur_link;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t nl = body.find('\n', pos);
    std::string_view line = body.substr(pos, nl - pos);
    pos = nl + 1;
    ++ps.line_no;
    if (ps.line_no == 1) {
      if (line != kMagic) ps.fail("not a goodcop manifest (expected '#mtree')");
      continue;
    }
    if (ps.line_no == 2) {
      if (line.substr(0, kVersionPrefix.size()) != kVersionPrefix)
        ps.fail("not a goodcop manifest (expected '#goodcop-manifest 1')");
      if (line != kVersionLine)
        ps.fail("unsupported manifest version '" + std::string(line.substr(kVersionPrefix.size())) + "'");
      continue;
    }
    if (line.substr(0, kIgnorePrefix.size()) == kIgnorePrefix) {
      if (have_entry || m.size() > 0) ps.fail("ignore line after the first entry");
      m.ignore.push_back(ps.unescape(line.substr(kIgnorePrefix.size())));
      continue;
    }
    if (line.substr(0, kExtPrefix.size()) == kExtPrefix) {
      if (!have_entry || have_ext) ps.fail("'#+' line without an entry");
      have_ext = true;
      bool have_ctime = false;
      std::vector<Xattr> xattrs;
      Entry& tail = m.entries().back();
      split_words(line.substr(kExtPrefix.size()), words);
      for (std::string_view w : words) {
        auto eq = w.find('=');
        if (eq == std::string_view::npos) ps.fail("expected key=value, got '" + escape_name(w) + "'");
        std::string_view key = w.substr(0, eq), val = w.substr(eq + 1);
        if (!have_ctime && key != "ctime") ps.fail("'#+' line must start with ctime");
        if (key == "ctime" && !have_ctime) {
          tail.ctime_ns = ps.time(key, val);
          have_ctime = true;
        } else if (key.substr(0, 6) == "xattr." && key.size() > 6) {
          std::string name = ps.unescape(key.substr(6));
          if (!xattrs.empty() && !(xattrs.back().first < name))
            ps.fail("xattrs not sorted or repeated");
          xattrs.emplace_back(std::move(name), ps.unhex(key, val));
        } else {
          ps.fail("unknown or repeated key '" + escape_name(key) + "'");
        }
      }
      if (!have_ctime) ps.fail("'#+' line without ctime");
      m.set_xattrs(tail, std::move(xattrs));
      continue;
    }
    if (line.empty() || line[0] == '#' || line[0] == '/') ps.fail("unexpected line");
    if (have_entry && !have_ext) ps.fail("entry '" + escape_name(cur_path) + "' has no '#+' line");
    split_words(line, words);
    cur = Entry{};
    cur_link.clear();
    cur_path = ps.rel_path(words[0]);
    if (m.size() == 0 && !cur_path.empty()) ps.fail("the first entry must be '.'");
    if (m.size() > 0 && !(prev_path < cur_path))
      ps.fail("path '" + escape_name(cur_path) + "' is out of order or repeated");
    if (m.size() >= limits.max_entries) ps.fail("more entries than the limit");
    if (!cur_path.empty()) {
      auto slash = cur_path.rfind('/');
      std::string_view parent = slash == std::string::npos ? std::string_view{}
                                                           : std::string_view(cur_path).substr(0, slash);
      // The parent is earlier in byte order; entries so far are sorted (m.find works).
      if (m.size() == 1 || parent != last_parent) {
        const Entry* pe = m.find(parent);
        if (pe == nullptr || pe->type != EntryType::kDir)
          ps.fail("parent of '" + escape_name(cur_path) + "' is not a directory in the manifest");
        last_parent.assign(parent);
      }
    }
    uint32_t seen = 0;
    enum : uint32_t { kT = 1, kM = 2, kU = 4, kG = 8, kN = 16, kI = 32, kTi = 64, kS = 128, kD = 256, kL = 512, kH = 1024 };
    // Each keyword at most once, in the writer's order (the bits are in that order).
    auto once = [&](uint32_t bit, std::string_view key) {
      if (seen & bit) ps.fail("repeated key '" + std::string(key) + "'");
      if (seen > bit) ps.fail("keyword '" + std::string(key) + "' out of order");
      seen |= bit;
    };
    for (size_t i = 1; i < words.size(); ++i) {
      std::string_view w = words[i];
      auto eq = w.find('=');
      if (eq == std::string_view::npos) ps.fail("expected key=value, got '" + escape_name(w) + "'");
      std::string_view key = w.substr(0, eq), val = w.substr(eq + 1);
      if (key == "type") {
        once(kT, key);
        static constexpr EntryType kAll[] = {EntryType::kFile, EntryType::kDir, EntryType::kSymlink,
                                             EntryType::kFifo, EntryType::kChar, EntryType::kBlock,
                                             EntryType::kSocket};
        auto it = std::find_if(std::begin(kAll), std::end(kAll),
                               [&](EntryType t) { return type_name(t) == val; });
        if (it == std::end(kAll)) ps.fail("unknown type '" + escape_name(val) + "'");
        cur.type = *it;
      } else if (key == "mode") {
        once(kM, key);
        if (val.size() != 4) ps.fail("mode: expected four octal digits");
        uint32_t mo = 0;
        for (char c : val) {
          if (c < '0' || c > '7') ps.fail("mode: expected four octal digits");
          mo = mo * 8 + static_cast<uint32_t>(c - '0');
        }
        cur.mode = mo;
      } else if (key == "uid") {
        once(kU, key);
        cur.uid = static_cast<uint32_t>(ps.number(key, val, UINT32_MAX));
      } else if (key == "gid") {
        once(kG, key);
        cur.gid = static_cast<uint32_t>(ps.number(key, val, UINT32_MAX));
      } else if (key == "nlink") {
        once(kN, key);
        cur.nlink = static_cast<uint32_t>(ps.number(key, val, UINT32_MAX));
      } else if (key == "inode") {
        once(kI, key);
        cur.ino = ps.number(key, val);
      } else if (key == "time") {
        once(kTi, key);
        cur.mtime_ns = ps.time(key, val);
      } else if (key == "size") {
        once(kS, key);
        cur.size = ps.number(key, val, INT64_MAX);
      } else if (key == "device") {
        once(kD, key);
        auto c1 = val.find(','), c2 = val.rfind(',');
        if (val.substr(0, 6) != "linux," || c1 == c2) ps.fail("device: expected linux,MAJOR,MINOR");
        auto maj = ps.number(key, val.substr(c1 + 1, c2 - c1 - 1), UINT32_MAX);
        auto min = ps.number(key, val.substr(c2 + 1), UINT32_MAX);
        cur.rdev = ::makedev(static_cast<unsigned>(maj), static_cast<unsigned>(min));
      } else if (key == "link") {
        once(kL, key);
        cur_link = ps.unescape(val);
        if (cur_link.empty()) ps.fail("link: empty target");
      } else if (key == "sha256digest") {
        once(kH, key);
        if (val.size() != 64) ps.fail("sha256digest: expected 64 hex digits");
        ps.unhex_into(key, val, reinterpret_cast<char*>(cur.sha256.data()));
        cur.hashed = true;
      } else {
        ps.fail("unknown keyword '" + escape_name(key) + "'");
      }
    }
    uint32_t need = kT | kM | kU | kG | kN | kI | kTi;
    uint32_t allowed = need;
    if (cur.type == EntryType::kFile) need |= kS | kH;
    if (cur.type == EntryType::kChar || cur.type == EntryType::kBlock) need |= kD;
    if (cur.type == EntryType::kSymlink) need |= kL;
    allowed = need;
    if ((seen & need) != need) ps.fail("entry '" + escape_name(cur_path) + "' lacks a required keyword");
    if ((seen & ~allowed) != 0) ps.fail("entry '" + escape_name(cur_path) + "' has a keyword its type does not take");
    if (cur_path.empty() && cur.type != EntryType::kDir) ps.fail("'.' must be a directory");
    prev_path = cur_path;
    have_entry = true;
    have_ext = false;
    // Added now (in order, so find() sees it as a parent); its "#+" line completes it.
    m.add(cur_path, cur, cur_link);
  }
  if (ps.line_no < 2) throw Error("manifest: truncated (no header)");
  if (have_entry && !have_ext) ps.fail("entry '" + escape_name(cur_path) + "' has no '#+' line");
  if (m.size() == 0) throw Error("manifest: no entries");
  return m;
}

namespace {

// The whole file in one buffer of its size, read in place: read_file() appends
// 64 KiB chunks to a string that doubles, which for a 57 MB manifest copied it
// about twice more and faulted in twice its pages (half the page faults of a
// quick check of 200,000 files). Uninitialised, so each page is touched once.
PageBuffer slurp(const std::string& file, size_t max_bytes, size_t& len) {
  UniqueFd fd = open_fd(file, O_RDONLY | O_NOCTTY | O_NONBLOCK);
  struct stat st = fstat_fd(fd.get(), file);
  // +1: the read that sees EOF needs room, or the buffer would grow for it.
  size_t cap = S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) + 1 : size_t{1} << 20;
  const size_t limit = max_bytes < SIZE_MAX ? max_bytes + 1 : max_bytes;  // one byte over says "too big"
  cap = std::max<size_t>(1, std::min(cap, limit));
  PageBuffer buf = page_buffer(cap);  // read(2) into it copies 57 MB
  len = 0;
  for (;;) {
    if (len == cap) {
      // Grew since the fstat, or not a regular file.
      if (cap > max_bytes) throw SysError("read", file, EFBIG);
      size_t bigger = cap > limit / 2 ? limit : cap * 2;
      PageBuffer more = page_buffer(bigger);
      std::memcpy(more.get(), buf.get(), len);
      buf = std::move(more);
      cap = bigger;
    }
    ssize_t n = ::read(fd.get(), buf.get() + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    check(n, "read", file);
    if (n == 0) break;
    len += static_cast<size_t>(n);
  }
  if (len > max_bytes) throw SysError("read", file, EFBIG);
  return buf;
}

}  // namespace

Manifest load_manifest(const std::string& file, const ManifestLimits& limits) {
  size_t len = 0;
  PageBuffer text = slurp(file, limits.max_bytes, len);
  try {
    return parse_manifest(std::string_view(text.get(), len), limits);
  } catch (...) {
    rethrow_with_context("'" + file + "'");
  }
}

}  // namespace goodcop::integrity
