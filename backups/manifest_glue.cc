// The bridge to integrity/: its manifests become the per-path expectations the
// extractor enforces, and its verify() checks a freshly extracted tree.
#include "backups/manifest_glue.h"

#include "base/error.h"
#include "base/fd.h"
#include "integrity/manifest.h"
#include "integrity/scan.h"
#include "integrity/verify.h"

namespace goodcop::backups {
namespace {

namespace in = goodcop::integrity;

char type_char(in::EntryType t) {
  switch (t) {
    case in::EntryType::kFile:
      return 'f';
    case in::EntryType::kDir:
      return 'd';
    case in::EntryType::kSymlink:
      return 'l';
    case in::EntryType::kFifo:
      return 'p';
    case in::EntryType::kChar:
      return 'c';
    case in::EntryType::kBlock:
      return 'b';
    case in::EntryType::kSocket:
      return 's';
  }
  return '?';
}

ExpectedTree expectations(const in::Manifest& m) {
  ExpectedTree out;
  for (const in::Entry& e : m.entries()) {
    ExpectedEntry x;
    x.type = type_char(e.type);
    x.mode = e.mode;
    x.uid = e.uid;
    x.gid = e.gid;
    x.size = e.size;
    if (e.hashed) x.sha256 = in::hex(e.sha256);
    x.link = std::string(m.link_target(e));
    x.rdev = e.rdev;
    std::string path(m.path(e));
    out[path.empty() ? "." : path] = std::move(x);  // integrity's root is "", ours "."
  }
  return out;
}

}  // namespace

TreeManifest build_tree_manifest(const std::string& dir, const std::vector<std::string>& ignore) {
  in::ScanOptions so;
  so.ignore = ignore;
  in::Manifest m = in::build_manifest(dir, so);
  TreeManifest t;
  t.text = in::write_manifest(m);
  t.expected = expectations(m);
  return t;
}

TreeManifest parse_tree_manifest(std::string_view text) {
  in::Manifest m = in::parse_manifest(text);
  TreeManifest t;
  t.text = std::string(text);
  t.expected = expectations(m);
  return t;
}

TreeCheck verify_tree(const std::string& dir, const TreeManifest& manifest) {
  in::Manifest m = in::parse_manifest(manifest.text);
  UniqueFd root = in::open_tree(dir);
  in::VerifyOptions o;
  // A tree extracted from an archive: inodes and ctimes are new, every file is hashed.
  o.mode = in::VerifyMode::kFull;
  o.local = false;
  in::Diff d = in::verify(root.get(), m, o);
  TreeCheck c;
  c.clean = d.clean();
  c.diff_json = in::to_json(d).dump();
  return c;
}

}  // namespace goodcop::backups
