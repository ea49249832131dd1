#include "integrity/scan.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <exception>
#include <thread>

#include "base/error.h"
#include "integrity/walk.h"

namespace goodcop::integrity {

UniqueFd open_tree(const std::string& root) {
  return open_fd(root, O_RDONLY | O_DIRECTORY);
}

unsigned hash_threads(unsigned threads) {
  if (threads != 0) return threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

namespace {

Manifest build(int root_fd, const ScanOptions& opts,
               const std::function<void(std::string_view)>* sink) {
  WalkOptions wo;
  wo.ignore = IgnoreSet(opts.ignore);
  wo.all_xattrs = opts.all_xattrs;
  wo.max_entries = opts.max_entries;
  wo.max_path = opts.max_path;
  wo.threads = hash_threads(opts.threads);
  // Every regular file is hashed by the walker that reads its directory.
  wo.hash_all = true;
  if (sink != nullptr) {
    wo.text_sink = *sink;
    wo.manifest_ignore = opts.ignore;
  }
  if (opts.progress) {
    wo.progress = [&](uint64_t files, uint64_t bytes, uint64_t files_seen, uint64_t bytes_seen) {
      opts.progress(Progress{files, files_seen, bytes, bytes_seen});
    };
  }
  WalkResult w = walk_tree(root_fd, wo);
  if (!w.raced.empty())
    throw TreeChanged("build: '" + escape_name(w.raced.front()) + "' changed during the scan");
  if (!w.issues.empty()) {
    const FileIssue& i = w.issues.front();
    if (i.what == FileIssue::kError) std::rethrow_exception(i.error);
    throw TreeChanged("build: '" + escape_name(i.path) + "' changed " +
                (i.what == FileIssue::kResized ? "while it was hashed" : "during the scan"));
  }
  Manifest& m = w.manifest;
  m.ignore = opts.ignore;
  if (opts.progress) opts.progress(Progress{w.files_hashed, w.files_hashed, w.bytes_hashed, w.bytes_hashed});
  return std::move(w.manifest);
}

Manifest build_path(const std::string& root, const ScanOptions& opts,
                    const std::function<void(std::string_view)>* sink) {
  UniqueFd fd = open_tree(root);
  try {
    return build(fd.get(), opts, sink);
  } catch (const TreeChanged& e) {
    throw TreeChanged("'" + root + "': " + e.what());
  } catch (...) {
    rethrow_with_context("'" + root + "'");
  }
}

}  // namespace

Manifest build_manifest(int root_fd, const ScanOptions& opts) { return build(root_fd, opts, nullptr); }

Manifest build_manifest(int root_fd, const ScanOptions& opts,
                        const std::function<void(std::string_view)>& sink) {
  return build(root_fd, opts, &sink);
}

Manifest build_manifest(const std::string& root, const ScanOptions& opts) {
  return build_path(root, opts, nullptr);
}

Manifest build_manifest(const std::string& root, const ScanOptions& opts,
                        const std::function<void(std::string_view)>& sink) {
  return build_path(root, opts, &sink);
}

}  // namespace goodcop::integrity
