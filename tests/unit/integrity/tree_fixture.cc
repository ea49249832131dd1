#include "tests/unit/integrity/tree_fixture.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "integrity/scan.h"

namespace goodcop::test {

namespace in = goodcop::integrity;

Tree::Tree() {
  check(::mkdir((dir / "a").c_str(), 0755), "mkdir");
  check(::mkdir((dir / "a/b").c_str(), 0755), "mkdir");
  check(::mkdir((dir / "e").c_str(), 0755), "mkdir");
  check(::mkdir((dir / "bin").c_str(), 0755), "mkdir");
  write_text(dir / "a/f", "hello\n");
  check(::link((dir / "a/f").c_str(), (dir / "a/g").c_str()), "link");
  check(::symlink("f", (dir / "a/s").c_str()), "symlink");
  write_text(dir / "a/b/deep", "deep file\n");
  write_text(dir / "big", "0123456789");
  write_text(dir / "bin/tool", "#!/bin/sh\necho hi\n", 0755);
  root = in::open_tree(dir.path());
  snap();
}

void Tree::snap(const std::vector<std::string>& ignore) {
  in::ScanOptions o;
  o.ignore = ignore;
  m = in::build_manifest(root.get(), o);
}

in::Diff Tree::quick(uint64_t rolling_budget, in::RollingState* rs) const {
  in::VerifyOptions o;
  o.mode = in::VerifyMode::kQuick;
  o.rolling_budget = rolling_budget;
  return in::verify(root.get(), m, o, rs);
}

in::Diff Tree::full() const {
  in::VerifyOptions o;
  o.mode = in::VerifyMode::kFull;
  return in::verify(root.get(), m, o);
}

uint32_t kinds_at(const in::Diff& d, const std::string& path) {
  for (const auto& c : d.changes)
    if (c.path == path) return c.kinds;
  return 0;
}

std::vector<std::string> changed_paths(const in::Diff& d) {
  std::vector<std::string> out;
  for (const auto& c : d.changes) out.push_back(c.path);
  return out;
}

void rewrite_same_size_keep_mtime(const std::string& path, const std::string& data) {
  struct stat st {};
  check(::stat(path.c_str(), &st), "stat", path);
  REQUIRE(static_cast<size_t>(st.st_size) == data.size());
  UniqueFd fd = open_fd(path, O_WRONLY);
  write_all(fd.get(), data, path);
  struct timespec ts[2] = {st.st_atim, st.st_mtim};
  check(::futimens(fd.get(), ts), "futimens", path);
}

}  // namespace goodcop::test
