#pragma once
// Helpers for the backups/ tests: hostile archives built with libarchive's writer,
// and an independent snapshot of a tree (not the code under test) to compare trees.

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace goodcop::test {

// One member of a hand-made archive.
struct Member {
  std::string name;
  char type = 'f';  // f, d, l (symlink), h (hard link), c, b, p
  unsigned mode = 0644;
  std::string data;      // f: content
  std::string link;      // l: symlink target, h: hard link target
  unsigned long rdev_major = 0, rdev_minor = 0;
  int64_t size_override = -1;  // f: write this many zero bytes instead of data (bombs)
};

// Member builders: a file, a directory, a symlink, a hard link, a device node, a bomb.
Member file(const std::string& name, const std::string& data, unsigned mode = 0644);
Member dir(const std::string& name, unsigned mode = 0755);
Member slink(const std::string& name, const std::string& target);
Member hlink(const std::string& name, const std::string& target);
Member device(const std::string& name, char type, unsigned long major, unsigned long minor,
              unsigned mode = 0660);
Member zeros(const std::string& name, int64_t size);

// Writes a pax archive (zstd when `zstd`) with the members in order.
void make_archive(const std::string& path, const std::vector<Member>& members, bool zstd = true);

// path -> "type mode uid:gid size sha256|target" for every entry below `dir`
// (the root is "."), without following symlinks.
std::map<std::string, std::string> snapshot(const std::string& dir);

// Names directly inside `dir`, sorted.
std::vector<std::string> list_dir(const std::string& dir);

// A tmpfs the test mounts on a fresh TempDir and unmounts (lazily) at scope exit.
class TmpfsMount {
 public:
  explicit TmpfsMount(const std::string& size = "256m");
  ~TmpfsMount();
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Flips one byte at `offset` (negative: from the end) of a file.
void flip_byte(const std::string& path, long offset);

}  // namespace goodcop::test
