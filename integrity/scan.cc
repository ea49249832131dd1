#include "integrity/scan.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "base/error.h"
#include "integrity/hash.h"
#include "integrity/walk.h"

namespace goodcop::integrity {

UniqueFd open_tree(const std::string& root) {
  return open_fd(root, O_RDONLY | O_DIRECTORY);
}

unsigned hash_threads(unsigned threads) {
  if (threads != 0) return threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

Manifest build_manifest(int root_fd, const ScanOptions& opts) {
  WalkOptions wo;
  wo.ignore = IgnoreSet(opts.ignore);
  wo.all_xattrs = opts.all_xattrs;
  wo.max_entries = opts.max_entries;
  wo.max_path = opts.max_path;
  WalkResult w = walk_tree(root_fd, wo);
  if (!w.raced.empty())
    throw Error("build: '" + escape_name(w.raced.front()) + "' changed during the scan");
  Manifest& m = w.manifest;
  m.ignore = opts.ignore;

  // Largest first, so one big file does not start last and run alone.
  std::vector<uint32_t> files;
  uint64_t bytes_total = 0;
  for (size_t i = 0; i < m.size(); ++i) {
    if (m.entries()[i].type != EntryType::kFile) continue;
    files.push_back(static_cast<uint32_t>(i));
    bytes_total += m.entries()[i].size;
  }
  std::stable_sort(files.begin(), files.end(), [&](uint32_t a, uint32_t b) {
    return m.entries()[a].size > m.entries()[b].size;
  });

  unsigned threads = hash_threads(opts.threads);
  std::vector<FileHasher> hashers(threads);
  std::atomic<uint64_t> done_files{0}, done_bytes{0};
  std::vector<std::vector<Xattr>> xattrs(files.size());
  parallel_for(
      files.size(), threads,
      [&](size_t k, unsigned worker) {
        Entry& e = m.entries()[files[k]];
        std::string rel(m.path(e));
        UniqueFd fd = open_beneath(root_fd, rel, O_RDONLY);
        struct stat st = fstat_fd(fd.get(), rel);
        // fstat before reading: a write after this moves ctime, so a later quick
        // check rehashes the file rather than trusting a digest of older bytes.
        if (!S_ISREG(st.st_mode) || st.st_ino != e.ino)
          throw Error("build: '" + escape_name(rel) + "' changed during the scan");
        e.size = static_cast<uint64_t>(st.st_size);
        e.mode = st.st_mode & 07777;
        e.uid = st.st_uid;
        e.gid = st.st_gid;
        e.nlink = static_cast<uint32_t>(st.st_nlink);
        e.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
        e.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
        xattrs[k] = read_xattrs_fd(fd.get(), opts.all_xattrs, rel);
        if (!hashers[worker].hash(fd.get(), e.size, e.sha256, rel))
          throw Error("build: '" + escape_name(rel) + "' changed while it was hashed");
        e.hashed = true;
        done_files.fetch_add(1, std::memory_order_relaxed);
        done_bytes.fetch_add(e.size, std::memory_order_relaxed);
      },
      [&] {
        if (opts.progress)
          opts.progress(Progress{done_files.load(), files.size(), done_bytes.load(), bytes_total});
      });
  for (size_t k = 0; k < files.size(); ++k)
    if (!xattrs[k].empty()) m.set_xattrs(m.entries()[files[k]], std::move(xattrs[k]));
  if (opts.progress) opts.progress(Progress{files.size(), files.size(), bytes_total, bytes_total});
  return std::move(w.manifest);
}

Manifest build_manifest(const std::string& root, const ScanOptions& opts) {
  UniqueFd fd = open_tree(root);
  try {
    return build_manifest(fd.get(), opts);
  } catch (...) {
    rethrow_with_context("'" + root + "'");
  }
}

}  // namespace goodcop::integrity
