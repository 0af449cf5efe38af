// Cancellation lets the stdio transport stop one in-flight tool call when
// the client sends notifications/cancelled: the broker client registers a
// hook (ClientContext::TryCancel) for the duration of each RPC.
#ifndef LATCHKEY_MCP_ADAPTER_CANCELLATION_H_
#define LATCHKEY_MCP_ADAPTER_CANCELLATION_H_

#include <functional>
#include <mutex>

namespace latchkey::mcp {

class Cancellation {
 public:
  Cancellation() = default;
  Cancellation(const Cancellation&) = delete;
  Cancellation& operator=(const Cancellation&) = delete;

  // Cancel marks the call cancelled and runs the registered hook, if any.
  // Idempotent and thread-safe.
  void Cancel();

  bool IsCancelled() const;

  // SetHook registers `hook` until ClearHook. Returns false (and does not
  // register) when already cancelled, so the caller can skip its work.
  bool SetHook(std::function<void()> hook);

  // ClearHook unregisters the hook; once it returns, Cancel will not call
  // the old hook, so whatever it captured may be destroyed.
  void ClearHook();

 private:
  mutable std::mutex mu_;
  bool cancelled_ = false;
  std::function<void()> hook_;
};

// ScopedCancelHook registers a hook on a (nullable) Cancellation for one
// scope.
class ScopedCancelHook {
 public:
  ScopedCancelHook(Cancellation* cancellation, std::function<void()> hook);
  ~ScopedCancelHook();
  ScopedCancelHook(const ScopedCancelHook&) = delete;
  ScopedCancelHook& operator=(const ScopedCancelHook&) = delete;

  // cancelled is true when the Cancellation was already cancelled when
  // the scope began.
  bool cancelled() const { return cancelled_; }

 private:
  Cancellation* const cancellation_;
  bool cancelled_ = false;
};

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_CANCELLATION_H_
