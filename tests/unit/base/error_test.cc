#include "base/error.h"

#include <catch2/catch.hpp>
#include <fcntl.h>

#include "base/fd.h"
#include "base/scope_exit.h"
#include "tests/support/support.h"

using namespace goodcop;

TEST_CASE("a failed system call names the operation, the path and errno", "[base][error]") {
  try {
    open_fd("/nonexistent/goodcop", O_RDONLY);
    FAIL("open succeeded");
  } catch (const SysError& e) {
    CHECK(std::string(e.what()) == "open '/nonexistent/goodcop': No such file or directory");
    CHECK(e.code() == ENOENT);
  }
}

TEST_CASE("context is prepended and errno kept", "[base][error]") {
  try {
    try {
      check(-1 + (errno = EACCES, 0), "mkdirat", "srv/www");
    } catch (...) {
      rethrow_with_context("restore");
    }
    FAIL("no throw");
  } catch (const SysError& e) {
    CHECK(std::string(e.what()) == "restore: mkdirat 'srv/www': Permission denied");
    CHECK(e.code() == EACCES);
  }
}

TEST_CASE("ScopeExit runs unless dismissed", "[base]") {
  int n = 0;
  {
    ScopeExit a([&] { ++n; });
    ScopeExit b([&] { n += 10; });
    b.dismiss();
  }
  CHECK(n == 1);
}

TEST_CASE("write_file_atomic replaces the whole file", "[base][fd]") {
  test::TempDir dir;
  std::string p = dir / "state.json";
  write_file_atomic(p, "one");
  write_file_atomic(p, "two, longer");
  CHECK(read_file(p) == "two, longer");
  CHECK_THROWS_AS(read_file(p, 3), SysError);
}
