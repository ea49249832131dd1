#pragma once
// ScopeExit: run a callable when the scope ends, unless dismissed.

#include <utility>

namespace goodcop {

// Runs `fn` on destruction unless dismiss() was called. Never throws out of the destructor.
template <typename F>
class ScopeExit {
 public:
  explicit ScopeExit(F fn) : fn_(std::move(fn)) {}
  ScopeExit(const ScopeExit&) = delete;
  ScopeExit& operator=(const ScopeExit&) = delete;
  ~ScopeExit() {
    if (active_) {
      try {
        fn_();
      } catch (...) {
      }
    }
  }
  void dismiss() noexcept { active_ = false; }

 private:
  F fn_;
  bool active_ = true;
};

}  // namespace goodcop
