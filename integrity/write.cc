// Writing the manifest text form, version 1 (docs/manifest.md): entries
// formatted in chunks on every core, hashed and handed on in order by the
// calling thread while the next chunks are formatted.
#include <sys/sysmacros.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/scope_exit.h"
#include "integrity/hash.h"
#include "integrity/manifest.h"
#include "integrity/text_form.h"

namespace goodcop::integrity {
namespace {

// Hand-written formatting: fmt::format_to into a growing string was 8 % of a
// build's CPU (parsing the format string per field, a virtual grow per append);
// this writes each entry into a buffer sized for its worst case.

char* put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

char* put_escaped(char* p, std::string_view s) {
  for (char ch : s) {
    if (!text::needs_escape(ch)) {
      *p++ = ch;
      continue;
    }
    auto c = static_cast<unsigned char>(ch);
    p[0] = '\\';
    p[1] = static_cast<char>('0' + ((c >> 6) & 7));
    p[2] = static_cast<char>('0' + ((c >> 3) & 7));
    p[3] = static_cast<char>('0' + (c & 7));
    p += 4;
  }
  return p;
}

char* put_u64(char* p, uint64_t v) {
  char tmp[20];
  size_t n = 0;
  do {
    tmp[19 - n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  return put(p, std::string_view(tmp + 20 - n, n));
}

// Octal with at least four digits (mode=0755, 4755).
char* put_mode(char* p, uint32_t v) {
  char tmp[12];
  size_t n = 0;
  do {
    tmp[11 - n++] = static_cast<char>('0' + (v & 7));
    v >>= 3;
  } while (v != 0);
  while (n < 4) tmp[11 - n++] = '0';
  return put(p, std::string_view(tmp + 12 - n, n));
}

// Seconds, '.', nine digits of nanoseconds; before 1970 the seconds are
// negative and the fraction counts forward from them ("-1.500000000" is -0.5 s).
char* put_time(char* p, int64_t ns) {
  int64_t sec = ns / 1'000'000'000;
  int64_t frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    sec -= 1;
  }
  if (sec < 0) {
    *p++ = '-';
    p = put_u64(p, static_cast<uint64_t>(-sec));
  } else {
    p = put_u64(p, static_cast<uint64_t>(sec));
  }
  *p++ = '.';
  auto f = static_cast<uint64_t>(frac);
  for (int i = 8; i >= 0; --i) {
    p[i] = static_cast<char>('0' + f % 10);
    f /= 10;
  }
  return p + 9;
}

char* put_hex(char* p, const uint8_t* raw, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; ++i) {
    p[2 * i] = kHex[raw[i] >> 4];
    p[2 * i + 1] = kHex[raw[i] & 15];
  }
  return p + 2 * n;
}

// The most bytes put_entry() writes for this entry.
size_t entry_bound(const Manifest& m, const Entry& e) {
  size_t n = 400 + 4 * (e.path_len + m.link_target(e).size());
  for (const Xattr& x : m.xattrs(e)) n += 8 + 4 * x.first.size() + 2 * x.second.size();
  return n;
}

// The entry's line and its "#+" line.
char* put_entry(char* p, const Manifest& m, const Entry& e) {
  std::string_view path = m.path(e);
  if (path.empty()) {
    *p++ = '.';
  } else {
    p = put(p, "./");
    p = put_escaped(p, path);
  }
  p = put(p, " type=");
  p = put(p, type_name(e.type));
  p = put(p, " mode=");
  p = put_mode(p, e.mode);
  p = put(p, " uid=");
  p = put_u64(p, e.uid);
  p = put(p, " gid=");
  p = put_u64(p, e.gid);
  p = put(p, " nlink=");
  p = put_u64(p, e.nlink);
  p = put(p, " inode=");
  p = put_u64(p, e.ino);
  p = put(p, " time=");
  p = put_time(p, e.mtime_ns);
  if (e.type == EntryType::kFile) {
    p = put(p, " size=");
    p = put_u64(p, e.size);
  }
  if (e.type == EntryType::kChar || e.type == EntryType::kBlock) {
    p = put(p, " device=linux,");
    p = put_u64(p, ::major(e.rdev));
    *p++ = ',';
    p = put_u64(p, ::minor(e.rdev));
  }
  if (e.type == EntryType::kSymlink) {
    p = put(p, " link=");
    p = put_escaped(p, m.link_target(e));
  }
  if (e.type == EntryType::kFile) {
    p = put(p, " sha256digest=");
    p = put_hex(p, e.sha256.data(), e.sha256.size());
  }
  p = put(p, "\n#+ ctime=");
  p = put_time(p, e.ctime_ns);
  for (const Xattr& x : m.xattrs(e)) {
    p = put(p, " xattr.");
    p = put_escaped(p, x.first);
    *p++ = '=';
    p = put_hex(p, reinterpret_cast<const uint8_t*>(x.second.data()), x.second.size());
  }
  *p++ = '\n';
  return p;
}

// The text of entries [begin, end), in a buffer of its worst-case size (only
// the pages written are ever touched).
struct Piece {
  std::unique_ptr<char[]> buf;
  size_t len = 0;
  bool ready = false;
  std::exception_ptr error;
};

// Waits until entries [0, end) of a manifest being filled in (ready set) are
// final, then throws unless their paths from begin on increase strictly.
void await_filled(const Manifest& m, const std::atomic<size_t>* ready, size_t begin, size_t end) {
  if (ready == nullptr) return;
  size_t r;
  while ((r = ready->load(std::memory_order_acquire)) < end)
    ready->wait(r, std::memory_order_acquire);
  if (r == text::kFillFailed) throw Error("manifest: the entries were not all joined");
  const std::vector<Entry>& es = m.entries();
  for (size_t i = std::max<size_t>(begin, 1); i < end; ++i) {
    if (!(m.path(es[i - 1]) < m.path(es[i])))
      throw Error("manifest: '" + escape_name(m.path(es[i])) + "' out of order");
  }
}

void format_piece(const Manifest& m, size_t begin, size_t end, Piece& piece) {
  const std::vector<Entry>& es = m.entries();
  size_t bound = 0;
  for (size_t i = begin; i < end; ++i) bound += entry_bound(m, es[i]);
  piece.buf.reset(new char[bound]);
  char* p = piece.buf.get();
  for (size_t i = begin; i < end; ++i) p = put_entry(p, m, es[i]);
  piece.len = static_cast<size_t>(p - piece.buf.get());
}

// The text of m's first n entries; `ready`: see text::write_filling.
void write_text(const Manifest& m, size_t n, const std::atomic<size_t>* ready,
                const std::function<void(std::string_view)>& sink) {
  Sha256 sha;
  auto emit = [&](std::string_view s) {
    sha.update(s);
    sink(s);
  };
  std::string head;
  head += text::kMagic;
  head += '\n';
  head += text::kVersionLine;
  head += '\n';
  for (const std::string& g : m.ignore) {
    head += text::kIgnorePrefix;
    head += escape_name(g);
    head += '\n';
  }
  emit(head);

  // The serial part of writing is the digest and the sink (a copy, a write(2)):
  // the calling thread does them chunk by chunk, in order, while the workers
  // format the chunks after it, at most kWindow ahead (bounded memory).
  constexpr size_t kChunk = 8192;
  constexpr size_t kWindow = 8;
  const size_t chunks = (n + kChunk - 1) / kChunk;
  if (chunks <= 1) {
    Piece piece;
    await_filled(m, ready, 0, n);
    format_piece(m, 0, n, piece);
    emit(std::string_view(piece.buf.get(), piece.len));
  } else {
    std::vector<Piece> pieces(chunks);
    std::mutex mu;
    std::condition_variable cv;
    size_t next = 0, consumed = 0;
    bool stop = false;
    auto worker = [&] {
      for (;;) {
        size_t c;
        {
          std::unique_lock lk(mu);
          cv.wait(lk, [&] { return stop || next >= chunks || next < consumed + kWindow; });
          if (stop || next >= chunks) return;
          c = next++;
        }
        Piece& piece = pieces[c];
        try {
          await_filled(m, ready, c * kChunk, std::min(n, (c + 1) * kChunk));
          format_piece(m, c * kChunk, std::min(n, (c + 1) * kChunk), piece);
        } catch (...) {
          piece.error = std::current_exception();
        }
        std::lock_guard lk(mu);
        piece.ready = true;
        cv.notify_all();
      }
    };
    unsigned threads = std::min<unsigned>(std::max(1u, std::thread::hardware_concurrency()),
                                          static_cast<unsigned>(std::min<size_t>(chunks, 64)));
    std::vector<std::thread> pool;
    ScopeExit join([&] {
      {
        std::lock_guard lk(mu);
        stop = true;
      }
      cv.notify_all();
      for (std::thread& t : pool) t.join();
    });
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (size_t c = 0; c < chunks; ++c) {
      Piece piece;
      {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return pieces[c].ready; });
        piece = std::move(pieces[c]);
      }
      if (piece.error) std::rethrow_exception(piece.error);
      emit(std::string_view(piece.buf.get(), piece.len));
      piece.buf.reset();
      std::lock_guard lk(mu);
      consumed = c + 1;
      cv.notify_all();
    }
  }
  std::string tail(text::kDigestPrefix);
  tail += hex(sha.final());
  tail += '\n';
  sink(tail);
}

}  // namespace

void write_manifest(const Manifest& m, const std::function<void(std::string_view)>& sink) {
  write_text(m, m.size(), nullptr, sink);
}

void text::write_filling(const Manifest& m, size_t n, const std::atomic<size_t>& ready,
                         const std::function<void(std::string_view)>& sink) {
  write_text(m, n, &ready, sink);
}

std::string write_manifest(const Manifest& m) {
  std::string out;
  // About 260 bytes per entry besides its path; growing past it copies once more.
  out.reserve(m.size() * 272 + m.path_bytes() + 4096);
  write_manifest(m, [&](std::string_view s) { out += s; });
  return out;
}

}  // namespace goodcop::integrity
