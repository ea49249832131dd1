// The backups/ tests run in a binary that is not goodcop: extraction helpers are the
// goodcop binary under test (goodcop-core, GOODCOP_CORE_BINARY), named before the first test
// runs.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

#include "backups/spawn.h"

namespace {

struct HelperBinary : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testRunStarting(const Catch::TestRunInfo&) override {
    goodcop::backups::set_helper_binary(GOODCOP_CORE_BINARY);
  }
};

}  // namespace

CATCH_REGISTER_LISTENER(HelperBinary)
