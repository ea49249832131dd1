// Verifying and exporting evidence bundles (the responder's side).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "backups/evidence.h"
#include "backups/evidence_sign.h"
#include "backups/extract.h"
#include "backups/fsops.h"
#include "base/error.h"
#include "base/fd.h"

namespace goodcop::backups {
namespace {

// A member as read back, with the tar header facts files.json is checked against.
struct ReadMember {
  char type = 'f';
  std::string data;
  uint32_t mode = 0, uid = 0, gid = 0;
  int64_t mtime_ns = 0;
  std::string link;
};

constexpr uint64_t kMaxMember = uint64_t{1} << 31;

std::map<std::string, ReadMember> read_bundle(const std::string& bundle,
                                              std::vector<std::string>* order) {
  UniqueFd fd = open_fd(bundle, O_RDONLY | O_NOCTTY);
  auto r = open_tar_reader(fd.get(), bundle);
  std::map<std::string, ReadMember> out;
  archive_entry* e = nullptr;
  for (;;) {
    int rc = archive_read_next_header(r->get(), &e);
    if (rc == ARCHIVE_EOF) break;
    r->check(rc, "evidence read", bundle, true);
    std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    while (name.size() > 1 && name.back() == '/') name.pop_back();  // pax writes "dir/"
    ReadMember m;
    auto ft = archive_entry_filetype(e);
    m.type = ft == AE_IFDIR ? 'd' : ft == AE_IFLNK ? 'l' : ft == AE_IFREG ? 'f' : '?';
    m.mode = static_cast<uint32_t>(archive_entry_perm(e));
    m.uid = static_cast<uint32_t>(archive_entry_uid(e));
    m.gid = static_cast<uint32_t>(archive_entry_gid(e));
    m.mtime_ns = static_cast<int64_t>(archive_entry_mtime(e)) * 1'000'000'000 +
                 archive_entry_mtime_nsec(e);
    if (m.type == 'l' && archive_entry_symlink(e) != nullptr) m.link = archive_entry_symlink(e);
    if (m.type == 'f') m.data = read_member_data(*r, kMaxMember, name);
    if (out.count(name)) throw Error("bundle '" + bundle + "': member '" + name + "' appears twice");
    order->push_back(name);
    out[name] = std::move(m);
  }
  return out;
}

}  // namespace

BundleReport verify_bundle(const std::string& bundle, const VerifyBundleOptions& opts) {
  BundleReport rep;
  std::vector<std::string> order;
  std::map<std::string, ReadMember> ms = read_bundle(bundle, &order);
  for (const auto& n : order) rep.members.emplace_back(n, ms[n].data.size());
  auto bad = [&](std::string s) { rep.problems.push_back(std::move(s)); };

  // 1. Every regular member against SHA256SUMS, and nothing unlisted.
  auto sums_it = ms.find("SHA256SUMS");
  std::string sums = sums_it == ms.end() ? "" : sums_it->second.data;
  if (sums_it == ms.end()) bad("member 'SHA256SUMS' is missing");
  std::set<std::string> listed;
  size_t pos = 0;
  while (pos < sums.size()) {
    size_t nl = sums.find('\n', pos);
    std::string line = sums.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? sums.size() : nl + 1;
    if (line.size() < 67 || line.compare(64, 2, "  ") != 0) {
      bad("SHA256SUMS: malformed line '" + line.substr(0, 80) + "'");
      continue;
    }
    std::string want = line.substr(0, 64), name = line.substr(66);
    listed.insert(name);
    auto it = ms.find(name);
    if (it == ms.end()) bad("member '" + name + "' is listed in SHA256SUMS but missing");
    else if (sha256_hex(it->second.data) != want) bad("member '" + name + "': sha256 mismatch");
  }
  for (const auto& [name, m] : ms) {
    if (m.type == 'f' && name != "SHA256SUMS" && name != "SIGNATURE" && !listed.count(name))
      bad("member '" + name + "' is not listed in SHA256SUMS");
  }
  rep.notes.push_back("member hashes: " + std::to_string(listed.size()) + " checked");

  // 2. The custody record and the file metadata (tar headers against files.json).
  nlohmann::json custody;
  auto cit = ms.find("custody.json");
  if (cit == ms.end()) {
    bad("member 'custody.json' is missing");
  } else {
    rep.custody_json = cit->second.data;
    try {
      custody = nlohmann::json::parse(cit->second.data);
      if (custody.value("format", "") != "goodcop-evidence") bad("custody.json: not a goodcop evidence record");
    } catch (const std::exception&) {
      bad("custody.json: not valid JSON");
    }
  }
  auto fit = ms.find("files.json");
  if (fit != ms.end()) {
    try {
      for (const auto& f : nlohmann::json::parse(fit->second.data)) {
        std::string p = f.at("path").get<std::string>();
        std::string name = p == "." ? "files" : "files/" + p;
        auto it = ms.find(name);
        if (f.contains("note") || it == ms.end()) continue;
        const ReadMember& m = it->second;
        if (std::string(1, m.type) != f.at("type").get<std::string>() ||
            m.mode != f.at("mode").get<uint32_t>() || m.uid != f.at("uid").get<uint32_t>() ||
            m.gid != f.at("gid").get<uint32_t>() || m.mtime_ns != f.at("mtime_ns").get<int64_t>() ||
            (m.type == 'l' && m.link != f.value("link", "")))
          bad("member '" + name + "': metadata differs from files.json");
      }
    } catch (const std::exception&) {
      bad("files.json: not valid");
    }
  }

  // 3. The signature over SHA256SUMS.
  auto sig_it = ms.find("SIGNATURE");
  bool expects_sig = custody.is_object() && custody.contains("signature");
  if (sig_it != ms.end() || expects_sig) {
    if (sig_it == ms.end()) {
      bad("signature: the custody record says signed, member 'SIGNATURE' is missing");
    } else {
      std::string sig = sig_it->second.data;
      if (!sig.empty() && sig.back() == '\n') sig.pop_back();
      std::string key = opts.public_key;
      bool embedded = key.empty();
      if (embedded && expects_sig) key = custody["signature"].value("public_key_pem", "");
      try {
        if (key.empty()) bad("signature: no public key to check it against");
        else if (!ed25519_verify(key, sums, sig)) bad("signature: invalid");
        else
          rep.notes.push_back(std::string("signature: valid (ed25519, key sha256 ") +
                              public_key_fingerprint(key) +
                              (embedded ? ", embedded key: pass --key to check who signed)" : ")"));
      } catch (const Error& e) {
        bad(e.what());
      }
    }
  }

  // 4. The bundle's digest in the hash-chained log.
  std::string jail = custody.is_object() ? custody.value("jail", "") : "";
  std::string log = opts.log.empty() && !jail.empty()
                        ? evidence_log_path(parent_dir(bundle), jail) : opts.log;
  struct stat st {};
  if (log.empty() || ::stat(log.c_str(), &st) < 0) {
    if (opts.require_log) bad("evidence log '" + log + "' not found");
  } else {
    for (auto& p : check_evidence_log(log)) bad(p);
    std::string digest = sha256_file(bundle);
    std::string name = base_name(bundle);
    std::string text = read_file(log, 256u << 20);
    bool found = false, name_seen = false;
    size_t p = 0;
    while (p < text.size()) {
      size_t nl = text.find('\n', p);
      std::string line = text.substr(p, nl == std::string::npos ? std::string::npos : nl - p);
      p = nl == std::string::npos ? text.size() : nl + 1;
      if (line.find(" " + name + " ") == std::string::npos) continue;
      name_seen = true;
      if (line.find(" " + name + " " + digest + " ") != std::string::npos) found = true;
    }
    if (!found)
      bad(name_seen ? "evidence log: the bundle's sha256 differs from the one logged"
                    : "evidence log: bundle '" + name + "' is not in the log");
    else rep.notes.push_back("evidence log: chain intact, bundle digest logged");
  }
  return rep;
}

void export_bundle(const std::string& bundle, const std::string& dir) {
  try {
    if (::mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST) throw SysError("mkdir", dir, errno);
    UniqueFd root = open_fd(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    std::vector<std::string> order;
    std::map<std::string, ReadMember> ms = read_bundle(bundle, &order);
    for (const auto& name : order) {
      const ReadMember& m = ms[name];
      std::string rel = normalize_member_path(name);
      if (rel.empty() || rel == ".") continue;
      make_parents_at(root.get(), rel);
      std::string parent = parent_dir(rel);
      UniqueFd pd = parent == "." ? open_beneath(root.get(), ".", O_RDONLY | O_DIRECTORY)
                                  : open_beneath(root.get(), parent, O_RDONLY | O_DIRECTORY);
      std::string leaf = base_name(rel);
      if (m.type == 'd') {
        if (::mkdirat(pd.get(), leaf.c_str(), 0755) < 0 && errno != EEXIST)
          throw SysError("mkdirat", rel, errno);
      } else if (m.type == 'l') {
        // Kept as a symlink (never followed here); its target is evidence, not a path.
        check(::symlinkat(m.link.c_str(), pd.get(), leaf.c_str()), "symlinkat", rel);
      } else if (m.type == 'f') {
        // No setuid, no owner, no exec bits: evidence is data on the responder's disk.
        UniqueFd f = openat_fd(pd.get(), leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
        write_all(f.get(), m.data, rel);
      }
    }
  } catch (...) {
    rethrow_with_context("export '" + bundle + "'");
  }
}

}  // namespace goodcop::backups
