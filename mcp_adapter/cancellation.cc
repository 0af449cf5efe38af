#include "mcp_adapter/cancellation.h"

#include <utility>

namespace latchkey::mcp {

void Cancellation::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  if (cancelled_) return;
  cancelled_ = true;
  // The hook runs under the lock so that ClearHook cannot return (and the
  // hooked ClientContext cannot be destroyed) while it runs.
  if (hook_) hook_();
}

bool Cancellation::IsCancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

bool Cancellation::SetHook(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(mu_);
  if (cancelled_) return false;
  hook_ = std::move(hook);
  return true;
}

void Cancellation::ClearHook() {
  std::lock_guard<std::mutex> lock(mu_);
  hook_ = nullptr;
}

ScopedCancelHook::ScopedCancelHook(Cancellation* cancellation,
                                   std::function<void()> hook)
    : cancellation_(cancellation) {
  if (cancellation_ != nullptr) {
    cancelled_ = !cancellation_->SetHook(std::move(hook));
  }
}

ScopedCancelHook::~ScopedCancelHook() {
  if (cancellation_ != nullptr) cancellation_->ClearHook();
}

}  // namespace latchkey::mcp
