#pragma once
// A deterministic mutation fuzzer for the manifest parser (g++ has no
// libFuzzer). Shared by the ctest case (a few thousand mutants, seconds) and
// the standalone driver fuzz/manifest_fuzz.cc (as long as you like).
//
// The property checked on every mutant: parse_manifest() either refuses it with
// goodcop::Error, or accepts it and write_manifest() gives back the very same
// bytes (the parser accepts exactly the canonical form the writer produces).
// A crash, a hang or any other exception is a finding.

#include <sys/sysmacros.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "integrity/hash.h"
#include "integrity/manifest.h"

namespace goodcop::fuzz {

// splitmix64: small, seedable, the same sequence on every machine.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    s_ += 0x9E3779B97F4A7C15ull;
    uint64_t z = s_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(next() % n); }

 private:
  uint64_t s_;
};

// A manifest with every entry type, escapes, xattrs, ignore globs, a negative
// time and large numbers: the seed the mutants start from.
inline std::string seed_manifest() {
  namespace in = goodcop::integrity;
  in::Manifest m;
  m.ignore = {"var/log/**", "**/*.pyc", "odd glob#="};
  auto entry = [](in::EntryType t, uint32_t mode) {
    in::Entry e;
    e.type = t;
    e.mode = mode;
    e.nlink = 1;
    e.ino = 1000;
    e.mtime_ns = 1'700'000'000'123'456'789;
    e.ctime_ns = 1'700'000'001'000'000'000;
    return e;
  };
  in::Entry root = entry(in::EntryType::kDir, 0755);
  m.add("", root, {}, {{"user.a", std::string("\x00\xff", 2)}});
  in::Entry f = entry(in::EntryType::kFile, 04755);
  f.size = 18;
  f.hashed = true;
  f.sha256 = in::sha256_of("#!/bin/sh\necho hi\n");
  f.uid = 4294967295u;
  f.ino = 18446744073709551615ull;
  m.add("bin", entry(in::EntryType::kDir, 0755));
  m.add("bin/tool", f, {}, {{"security.capability", std::string("\x01\x00\x00\x02", 4)}});
  in::Entry odd = f;
  odd.mtime_ns = -1'500'000'000;  // before 1970
  odd.nlink = 2;
  m.add("bin/we ird\tname#=\\\xff", odd);
  in::Entry dev = entry(in::EntryType::kChar, 0666);
  dev.rdev = ::makedev(1, 3);
  m.add("dev", entry(in::EntryType::kDir, 0755));
  m.add("dev/block0", [&] {
    in::Entry b = entry(in::EntryType::kBlock, 0660);
    b.rdev = ::makedev(259, 1048575);
    return b;
  }());
  m.add("dev/null", dev);
  m.add("etc", entry(in::EntryType::kDir, 0755));
  m.add("etc/fifo", entry(in::EntryType::kFifo, 0600));
  m.add("etc/link", entry(in::EntryType::kSymlink, 0777), "../bin/we ird\\");
  m.add("etc/sock", entry(in::EntryType::kSocket, 0755));
  m.add("var", entry(in::EntryType::kDir, 01777));
  return in::write_manifest(m);
}

// Bytes that matter to the format, picked more often than random ones.
inline constexpr std::string_view kAlphabet = " =#\\./\n0123456789abcdef-,xtypemodlinkuidgsha+";

// Replaces the digest line with one over the (mutated) body, so the mutant
// reaches the parser proper instead of stopping at the digest check.
inline std::string reseal(std::string_view text) {
  size_t at = text.rfind("#goodcop-sha256 ");
  std::string body(at == std::string_view::npos ? text : text.substr(0, at));
  return body + "#goodcop-sha256 " + goodcop::integrity::hex(goodcop::integrity::sha256_of(body)) + "\n";
}

// One mutant of `text`: a few random edits (byte flips, inserts, deletions, line
// swaps and duplicates, boundary numbers), resealed most of the time.
inline std::string mutate(std::string text, Rng& rng) {
  static const char* kNumbers[] = {"0", "00", "01", "-0", "4294967295", "4294967296", "18446744073709551615",
                                   "18446744073709551616", "9223372036854775807", "-1", "\\000", "\\377", "\\040"};
  size_t edits = 1 + rng.below(4);
  for (size_t k = 0; k < edits && !text.empty(); ++k) {
    size_t at = rng.below(text.size());
    switch (rng.below(9)) {
      case 0:  // flip a bit
        text[at] = static_cast<char>(text[at] ^ (1 << rng.below(8)));
        break;
      case 1:  // a format byte
        text[at] = kAlphabet[rng.below(kAlphabet.size())];
        break;
      case 2:
        text.insert(at, 1, kAlphabet[rng.below(kAlphabet.size())]);
        break;
      case 3:  // delete a short range
        text.erase(at, 1 + rng.below(8));
        break;
      case 4: {  // replace a value after '=' with a boundary number
        size_t eq = text.find('=', at);
        if (eq == std::string::npos) break;
        size_t end = text.find_first_of(" \n", eq);
        text.replace(eq + 1, (end == std::string::npos ? text.size() : end) - eq - 1,
                     kNumbers[rng.below(std::size(kNumbers))]);
        break;
      }
      case 5:
      case 6: {  // duplicate, drop or swap whole lines
        std::vector<std::string> lines;
        size_t s = 0;
        while (s < text.size()) {
          size_t nl = text.find('\n', s);
          if (nl == std::string::npos) nl = text.size() - 1;
          lines.push_back(text.substr(s, nl - s + 1));
          s = nl + 1;
        }
        size_t a = rng.below(lines.size()), b = rng.below(lines.size());
        switch (rng.below(3)) {
          case 0: lines.insert(lines.begin() + static_cast<long>(a), lines[b]); break;
          case 1: lines.erase(lines.begin() + static_cast<long>(a)); break;
          default: std::swap(lines[a], lines[b]); break;
        }
        text.clear();
        for (const std::string& l : lines) text += l;
        break;
      }
      case 7:  // truncate
        text.resize(at);
        break;
      default:  // a random byte
        text[at] = static_cast<char>(rng.below(256));
        break;
    }
  }
  return rng.below(10) == 0 ? text : reseal(text);
}

// Parses one input; returns "" when the property holds, else what went wrong.
inline std::string check_one(std::string_view text) {
  namespace in = goodcop::integrity;
  in::Manifest m;
  try {
    m = in::parse_manifest(text);
  } catch (const goodcop::Error&) {
    return {};  // refused: fine
  } catch (const std::exception& e) {
    return std::string("parse threw something other than goodcop::Error: ") + e.what();
  }
  if (in::write_manifest(m) != text) return "accepted, but write_manifest gives other bytes back";
  return {};
}

}  // namespace goodcop::fuzz
