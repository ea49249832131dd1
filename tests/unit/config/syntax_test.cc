// The YAML front end: what yaml-cpp would accept (or crash on, or blow up on) that a
// policy must not, each with its exact position.
#include <catch2/catch.hpp>

#include "config/policy.h"
#include "tests/unit/config/helpers.h"

using goodcop::test::errors_of;
using goodcop::test::kBase;

TEST_CASE("positions are 1-based and count characters, not bytes", "[config]") {
  // yaml-cpp's Mark is 0-based and counts bytes: the first key is 0:0 to it.
  CHECK(errors_of("nmae: w\n") ==
        std::vector<std::string>{"p.yaml:1:1: unknown key 'nmae' (did you mean 'name'?)",
                                 "p.yaml:1:1: missing required key 'name'",
                                 "p.yaml:1:1: missing required key 'path'",
                                 "p.yaml:1:1: missing required key 'exec.start'"});
  // "é" is two bytes; the second bad address starts at character 10 (byte 11).
  CHECK(errors_of(kBase + "ip4: [\xc3\xa9, 300.1.1.1]\n") ==
        std::vector<std::string>{
            "p.yaml:4:7: ip4: expected an IPv4 address such as 198.18.0.2 or 198.18.0.2/24, got "
            "'\xc3\xa9'",
            "p.yaml:4:10: ip4: expected an IPv4 address such as 198.18.0.2 or 198.18.0.2/24, got "
            "'300.1.1.1'"});
  // A byte order mark is not a column.
  CHECK(errors_of("\xef\xbb\xbfname: W\npath: /a\nexec: {start: [/bin/sh]}\n")
            .at(0)
            .rfind("p.yaml:1:7: name:", 0) == 0);
}

TEST_CASE("bytes: encoding, control characters, tabs, size", "[config]") {
  struct Case {
    const char* what;
    std::string text;
    std::vector<std::string> expect;
  };
  std::vector<Case> cases = {
      {"invalid UTF-8", "name: w\xff\npath: /a\n", {"p.yaml:1:8: invalid UTF-8 byte 0xff"}},
      {"overlong UTF-8",
       "name: \xc0\xaf\n",
       {"p.yaml:1:7: invalid UTF-8 byte 0xc0", "p.yaml:1:8: invalid UTF-8 byte 0xaf"}},
      {"UTF-16 surrogate in UTF-8",
       "name: \xed\xa0\x80\n",
       {"p.yaml:1:7: invalid UTF-8 byte 0xed", "p.yaml:1:8: invalid UTF-8 byte 0xa0",
        "p.yaml:1:9: invalid UTF-8 byte 0x80"}},
      {"UTF-16 file",
       std::string("\xff\xfen\0a\0", 6),
       {"p.yaml:1:1: invalid UTF-8 byte 0xff", "p.yaml:1:2: invalid UTF-8 byte 0xfe",
        "p.yaml:1:4: NUL byte", "p.yaml:1:6: NUL byte"}},
      {"NUL byte", std::string("name: w\0x\n", 10), {"p.yaml:1:8: NUL byte"}},
      {"escape character", "name: \x1b[31mw\n", {"p.yaml:1:7: control character U+001B"}},
      {"C1 control", "name: \xc2\x85w\n", {"p.yaml:1:7: control character U+0085"}},
      {"lone carriage return",
       "name: w\rpath: /a\n",
       {"p.yaml:1:8: carriage return without a line feed"}},
      {"tab in indentation",
       kBase + "watch:\n\tinterval: 5s\n",
       {"p.yaml:5:1: tab in indentation (YAML indents with spaces)"}},
      {"tab after spaces in indentation",
       kBase + "watch:\n  \tinterval: 5s\n",
       {"p.yaml:5:3: tab in indentation (YAML indents with spaces)"}},
      {"byte order mark in the middle",
       kBase + "# \xef\xbb\xbf\n",
       {"p.yaml:4:3: byte order mark inside the file"}},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    CHECK(errors_of(c.text) == c.expect);
  }
  std::string big = kBase + "description: x\n" + std::string(1 << 20, '#');
  CHECK(errors_of(big) ==
        std::vector<std::string>{"'p.yaml': file is larger than 1M (" + std::to_string(big.size()) +
                                 " bytes), refusing to parse it"});
}

TEST_CASE("documents: empty, not a mapping, several, syntax errors", "[config]") {
  struct Case {
    const char* what;
    std::string text;
    std::vector<std::string> expect;
  };
  std::vector<Case> cases = {
      {"empty file", "", {"p.yaml:1:1: policy is empty"}},
      {"only comments", "# nothing here\n\n   # really\n", {"p.yaml:1:1: policy is empty"}},
      {"only a document marker", "---\n", {"p.yaml:1:1: policy is empty"}},
      {"null document", "~\n", {"p.yaml:1:1: policy is empty"}},
      {"a list",
       "- name: w\n",
       {"p.yaml:1:1: a policy must be a mapping of keys to values, got a list"}},
      {"a scalar",
       "# hello\nname\n",
       {"p.yaml:2:1: a policy must be a mapping of keys to values, got a string"}},
      {"two documents",
       kBase + "---\nname: x\n",
       {"p.yaml:4:1: only one YAML document is allowed in a policy file"}},
      {"quote left open before the last line break",
       kBase + "description: \"w\n",
       {"p.yaml:4:14: quoted string is not closed"}},
      {"single quote left open",
       kBase + "description: 'it''s\n\n",
       {"p.yaml:4:14: quoted string is not closed"}},
      {"unclosed quote at the end",
       kBase + "description: \"w",
       {"p.yaml:4:16: invalid YAML: illegal EOF in scalar"}},
      {"unclosed flow list",
       kBase + "ip4: [198.18.0.2\n",
       {"p.yaml:5:1: invalid YAML: end of sequence flow not found"}},
      {"bad indentation", "name: w\n  path: /a\n", {"p.yaml:2:7: invalid YAML: illegal map value"}},
      {"unknown escape",
       "name: \"\\q\"\n",
       {"p.yaml:1:10: invalid YAML: unknown escape character: q"}},
      {"NUL through an escape", kBase + "exec.env: {X: \"a\\0b\"}\n",
       {"p.yaml:4:15: string contains a NUL character"}},
      {"list key", kBase + "? [a]\n: b\n", {"p.yaml:4:3: keys must be plain strings, got a list"}},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    CHECK(errors_of(c.text) == c.expect);
  }
}

TEST_CASE("anchors, aliases, tags and alias bombs are refused", "[config]") {
  CHECK(errors_of(kBase + "keep: &k [/a]\n") ==
        std::vector<std::string>{"p.yaml:4:7: anchors are not allowed in a policy"});
  CHECK(errors_of("name: w\npath: /srv/w\nexec: {start: [/bin/sh]}\nx: &a 1\nhostname: *a\n") ==
        std::vector<std::string>{"p.yaml:4:4: anchors are not allowed in a policy",
                                 "p.yaml:5:11: aliases are not allowed in a policy"});
  CHECK(errors_of(kBase + "hostname: !!str web\n") ==
        std::vector<std::string>{"p.yaml:4:11: tags are not allowed ('tag:yaml.org,2002:str')"});
  CHECK(errors_of(kBase + "hostname: !local web\n") ==
        std::vector<std::string>{"p.yaml:4:11: tags are not allowed ('!local')"});

  // "Billion laughs": 9 levels of 9 aliases would be 9^9 nodes if expanded. Refused
  // without expansion, so this returns at once with small memory.
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int k = 0; k < 8; ++k) bomb += ", " + prev;
    bomb += "]\n";
  }
  auto errs = errors_of(bomb);
  REQUIRE(!errs.empty());
  CHECK(errs[0] == "p.yaml:1:5: anchors are not allowed in a policy");
  CHECK(errs.size() == 10 + 81);  // 10 anchors, 81 aliases, each reported once
}

TEST_CASE("control characters from escapes never reach the terminal raw", "[config]") {
  // "\e]0;x\a" would retitle the operator's terminal; it is shown escaped.
  CHECK(errors_of(kBase + "hostname: \"\\e]0;x\\a\"\n") ==
        std::vector<std::string>{"p.yaml:4:11: hostname: expected an RFC 1123 host name of at "
                                 "most 64 characters, got '\\x1b]0;x\\x07'"});
}

TEST_CASE("hostile shapes: deep nesting, many nodes, long keys", "[config]") {
  std::string deep = kBase + "x: " + std::string(100, '[') + std::string(100, ']') + "\n";
  CHECK(errors_of(deep) ==
        std::vector<std::string>{"p.yaml:4:19: YAML nested too deeply (more than 16 levels)"});
  std::string wide = kBase + "keep: [";
  for (int i = 0; i < 25000; ++i) wide += "/a,";
  wide += "/a]\n";
  CHECK(errors_of(wide) ==
        std::vector<std::string>{"p.yaml:4:59972: too many YAML nodes (more than 20000)"});
  // Long keys are cut in messages; yaml-cpp refuses simple keys over 1024 characters.
  std::string long_key(1000, 'k');
  CHECK(errors_of(kBase + long_key + ": 1\n") ==
        std::vector<std::string>{"p.yaml:4:1: unknown key '" + std::string(77, 'k') + "...'"});
  CHECK(errors_of(kBase + std::string(5000, 'k') + ": 1\n") ==
        std::vector<std::string>{"p.yaml:4:5001: invalid YAML: illegal map value"});
}
