#include "base/error.h"
#include "integrity/glob.h"
#include "tests/support/support.h"

namespace in = goodcop::integrity;

TEST_CASE("ignore globs: '*' stays within a component, '**' spans components") {
  in::IgnoreSet s({"var/log/**", "**/*.pyc", "tmp/*", "etc/ssh/ssh_host_?_key", "srv/[a-c]*/cache"});
  CHECK(s.matches("var/log/x"));
  CHECK(s.matches("var/log/x/y/z"));
  CHECK_FALSE(s.matches("var/log"));  // the directory itself stays checked
  CHECK_FALSE(s.matches("var/logx"));
  CHECK_FALSE(s.matches("var/logx/y"));
  CHECK(s.matches("x.pyc"));
  CHECK(s.matches("a/b/c/x.pyc"));
  CHECK_FALSE(s.matches("a/b/x.pyc.txt"));
  CHECK(s.matches("tmp/a"));
  CHECK_FALSE(s.matches("tmp/a/b"));  // '*' does not cross '/'
  CHECK_FALSE(s.matches("tmp"));
  CHECK(s.matches("etc/ssh/ssh_host_a_key"));
  CHECK_FALSE(s.matches("etc/ssh/ssh_host_ab_key"));
  CHECK(s.matches("srv/beta/cache"));
  CHECK_FALSE(s.matches("srv/delta/cache"));
  CHECK_FALSE(s.matches(""));
}

TEST_CASE("ignore globs: a middle '**' matches zero or more components") {
  in::IgnoreSet s({"home/**/.cache"});
  CHECK(s.matches("home/.cache"));
  CHECK(s.matches("home/u/.cache"));
  CHECK(s.matches("home/u/v/.cache"));
  CHECK_FALSE(s.matches("home/u/.cache2"));
  CHECK_FALSE(s.matches("srv/home/.cache"));  // anchored at the root
}

TEST_CASE("ignore globs: malformed globs are refused") {
  CHECK_THROWS_WITH(in::IgnoreSet({""}), "ignore glob '' is empty");
  CHECK_THROWS_WITH(in::IgnoreSet({"a/b**"}), "ignore glob 'a/b**': '**' must be a whole path component");
  CHECK_THROWS_WITH(in::IgnoreSet({"a/[bc"}), "ignore glob 'a/[bc': unclosed '['");
}
