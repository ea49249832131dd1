#include "config/yaml_guard.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>

#include <cstdint>
#include <cstdio>
#include <sstream>

namespace goodcop::config {

std::string_view kind_name(const YNode& n) {
  switch (n.kind) {
    case YNode::Kind::null:
      return "null";
    case YNode::Kind::scalar:
      return "a string";
    case YNode::Kind::seq:
      return "a list";
    case YNode::Kind::map:
      return "a mapping";
  }
  return "?";
}

namespace {

constexpr size_t kMaxRawDiags = 20;

std::string hex_byte(unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", c);
  return buf;
}

std::string code_point(uint32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", cp);
  return buf;
}

// Length of the valid UTF-8 sequence at s[i] and its code point, or 0 if invalid
// (truncated, overlong, surrogate, above U+10FFFF: RFC 3629 section 4).
size_t utf8_sequence(std::string_view s, size_t i, uint32_t& cp) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  size_t len = 0;
  uint32_t min = 0;
  if ((c & 0xe0) == 0xc0)
    len = 2, cp = c & 0x1fu, min = 0x80;
  else if ((c & 0xf0) == 0xe0)
    len = 3, cp = c & 0x0fu, min = 0x800;
  else if ((c & 0xf8) == 0xf0)
    len = 4, cp = c & 0x07u, min = 0x10000;
  else
    return 0;
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((b(k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3fu);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

// The byte-level rules yaml-cpp does not enforce (or enforces with a poor message).
void check_bytes(std::string_view text, const std::string& file, std::vector<Diag>& out) {
  int line = 1, col = 1;
  bool indent = true;  // still in the leading whitespace of the line
  auto add = [&](std::string msg) {
    if (out.size() < kMaxRawDiags) out.push_back({file, {line, col}, std::move(msg)});
  };
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    size_t len = utf8_sequence(text, i, cp);
    if (len == 0) {
      add("invalid UTF-8 byte " + hex_byte(static_cast<unsigned char>(text[i])));
      ++i, ++col;
      continue;
    }
    if (cp == '\n') {
      ++line, col = 1, indent = true, i += len;
      continue;
    }
    if (cp == '\r') {
      if (i + 1 >= text.size() || text[i + 1] != '\n') add("carriage return without a line feed");
    } else if (cp == '\t') {
      if (indent) add("tab in indentation (YAML indents with spaces)");
    } else if (cp == 0) {
      add("NUL byte");
    } else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f)) {
      add("control character " + code_point(cp));
    } else if (cp == 0xfeff) {
      add("byte order mark inside the file");
    }
    if (cp != ' ' && cp != '\t') indent = false;
    i += len;
    ++col;
  }
}

// Thrown by the handler to abandon a document that broke a hard limit.
struct Abandon {};

// Builds the YNode tree from yaml-cpp's events, refusing what a policy never needs.
class TreeBuilder : public YAML::EventHandler {
 public:
  TreeBuilder(const std::string& file, std::string_view text, std::vector<Diag>& diags)
      : file_(file), text_(text), diags_(diags) {
    size_t start = 0;
    for (;;) {
      size_t nl = text.find('\n', start);
      lines_.push_back(text.substr(start, nl == std::string_view::npos ? nl : nl - start));
      if (nl == std::string_view::npos) break;
      start = nl + 1;
    }
  }

  // yaml-cpp marks are 0-based and count bytes; ours are 1-based and count characters.
  // Marks arrive in reading order, so counting resumes from the previous mark on the
  // same line: a 1 MiB one-line file must not cost a rescan of the line per node.
  Location loc(const YAML::Mark& m) {
    if (m.is_null() || m.line < 0) return {1, 1};
    auto li = static_cast<size_t>(m.line);
    if (li >= lines_.size()) return {static_cast<int>(lines_.size()), 1};
    std::string_view l = lines_[li];
    size_t bytes = std::min(l.size(), static_cast<size_t>(std::max(m.column, 0)));
    if (li != cache_line_ || bytes < cache_bytes_)
      cache_line_ = li, cache_bytes_ = 0, cache_chars_ = 0;
    for (; cache_bytes_ < bytes; ++cache_bytes_)
      if ((static_cast<unsigned char>(l[cache_bytes_]) & 0xc0) != 0x80) ++cache_chars_;
    return {m.line + 1, static_cast<int>(cache_chars_) + 1};
  }

  std::unique_ptr<YNode> take_root() { return std::move(root_); }
  int documents() const { return documents_; }

  void OnDocumentStart(const YAML::Mark& m) override {
    if (++documents_ > 1) {
      error(loc(m), "only one YAML document is allowed in a policy file");
      throw Abandon{};
    }
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& m, YAML::anchor_t) override {
    YNode n;
    n.at = loc(m);
    add(std::move(n));
  }

  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override {
    // Refused, never expanded: "billion laughs" style alias bombs cost nothing here.
    YNode n;
    n.at = loc(m);
    error(n.at, "aliases are not allowed in a policy");
    add(std::move(n));
  }

  void OnScalar(const YAML::Mark& m, const std::string& tag, YAML::anchor_t,
                const std::string& value) override {
    YNode n;
    n.kind = YNode::Kind::scalar;
    n.at = loc(m);
    n.value = value;
    n.quoted = tag == "!";
    check_tag(n.at, tag);
    if (n.quoted && !quote_closed(m)) error(n.at, "quoted string is not closed");
    // "\0" in a double-quoted string: no path, argument or variable can hold it.
    if (value.find('\0') != std::string::npos) error(n.at, "string contains a NUL character");
    add(std::move(n));
  }

  void OnSequenceStart(const YAML::Mark& m, const std::string& tag, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    open(YNode::Kind::seq, loc(m), tag);
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& m, const std::string& tag, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    open(YNode::Kind::map, loc(m), tag);
  }
  void OnMapEnd() override { close(); }

  void OnAnchor(const YAML::Mark& m, const std::string&) override {
    error(loc(m), "anchors are not allowed in a policy");
  }

 private:
  struct Frame {
    YNode node;
    bool have_key = false;
    YNode key;
  };

  // yaml-cpp 0.7 accepts a quoted scalar left open at the end of the file when a line
  // break precedes EOF, silently swallowing the rest of the file into one string.
  bool quote_closed(const YAML::Mark& m) const {
    if (m.pos < 0 || static_cast<size_t>(m.pos) >= text_.size()) return true;
    char q = text_[static_cast<size_t>(m.pos)];
    if (q != '"' && q != '\'') return true;  // a block scalar (| or >)
    for (size_t i = static_cast<size_t>(m.pos) + 1; i < text_.size(); ++i) {
      if (q == '"' && text_[i] == '\\') {
        ++i;
      } else if (text_[i] == q) {
        if (q == '\'' && i + 1 < text_.size() && text_[i + 1] == '\'') {
          ++i;  // '' is a quote inside a single-quoted string
          continue;
        }
        return true;
      }
    }
    return false;
  }

  void error(Location at, std::string msg) { diags_.push_back({file_, at, std::move(msg)}); }

  void check_tag(Location at, const std::string& tag) {
    if (tag != "?" && tag != "!" && !tag.empty()) error(at, "tags are not allowed ('" + tag + "')");
  }

  void count(Location at) {
    if (++nodes_ > kMaxNodes) {
      error(at, "too many YAML nodes (more than " + std::to_string(kMaxNodes) + ")");
      throw Abandon{};
    }
  }

  void open(YNode::Kind kind, Location at, const std::string& tag) {
    count(at);
    if (stack_.size() >= kMaxDepth) {
      error(at, "YAML nested too deeply (more than " + std::to_string(kMaxDepth) + " levels)");
      throw Abandon{};
    }
    check_tag(at, tag);
    Frame f;
    f.node.kind = kind;
    f.node.at = at;
    stack_.push_back(std::move(f));
  }

  void close() {
    YNode n = std::move(stack_.back().node);
    stack_.pop_back();
    attach(std::move(n));
  }

  void add(YNode n) {
    count(n.at);
    attach(std::move(n));
  }

  void attach(YNode n) {
    if (stack_.empty()) {
      root_ = std::make_unique<YNode>(std::move(n));
      return;
    }
    Frame& top = stack_.back();
    if (top.node.kind == YNode::Kind::seq) {
      top.node.items.push_back(std::move(n));
    } else if (!top.have_key) {
      top.key = std::move(n);
      top.have_key = true;
    } else {
      top.have_key = false;
      // yaml-cpp marks an empty value ("name:") at the next token, often the next
      // line; the key is where the operator should look.
      if (n.kind == YNode::Kind::null) n.at = top.key.at;
      if (top.key.kind != YNode::Kind::scalar) {
        error(top.key.at, "keys must be plain strings, got " + std::string(kind_name(top.key)));
        return;
      }
      top.node.pairs.emplace_back(std::move(top.key), std::move(n));
    }
  }

  const std::string& file_;
  std::string_view text_;
  std::vector<Diag>& diags_;
  std::vector<std::string_view> lines_;
  std::vector<Frame> stack_;
  std::unique_ptr<YNode> root_;
  size_t nodes_ = 0;
  size_t cache_line_ = SIZE_MAX, cache_bytes_ = 0, cache_chars_ = 0;
  int documents_ = 0;
};

}  // namespace

YamlDoc parse_yaml(std::string_view text, const std::string& file) {
  YamlDoc doc;
  if (text.size() > kMaxPolicyBytes) {
    doc.diags.push_back({file,
                         {},
                         "file is larger than 1M (" + std::to_string(text.size()) +
                             " bytes), refusing to parse it"});
    return doc;
  }
  // A UTF-8 byte order mark is harmless; yaml-cpp skips it without counting a column.
  if (text.substr(0, 3) == "\xef\xbb\xbf") text.remove_prefix(3);
  check_bytes(text, file, doc.diags);
  if (!doc.diags.empty()) return doc;

  std::string copy(text);
  std::istringstream in(copy);
  TreeBuilder builder(file, text, doc.diags);
  try {
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(builder)) {
    }
  } catch (const Abandon&) {
    return doc;
  } catch (const YAML::Exception& e) {
    doc.diags.push_back({file, builder.loc(e.mark), "invalid YAML: " + e.msg});
    return doc;
  }
  auto root = builder.take_root();
  if (!root || root->kind == YNode::Kind::null) {
    doc.diags.push_back({file, {1, 1}, "policy is empty"});
    return doc;
  }
  if (root->kind != YNode::Kind::map) {
    doc.diags.push_back(
        {file, root->at,
         "a policy must be a mapping of keys to values, got " + std::string(kind_name(*root))});
    return doc;
  }
  if (doc.diags.empty()) doc.root = std::move(root);
  return doc;
}

}  // namespace goodcop::config
