// StateHolder publishes the current compiled configuration. Requests take a
// snapshot (a shared_ptr) so that a reload never changes the rules under a
// request that is being decided.
#ifndef LATCHKEY_BROKER_STATE_HOLDER_H_
#define LATCHKEY_BROKER_STATE_HOLDER_H_

#include <memory>

#include "absl/synchronization/mutex.h"
#include "broker/broker_config.h"

namespace latchkey::broker {

class StateHolder {
 public:
  explicit StateHolder(std::shared_ptr<const BrokerState> state)
      : state_(std::move(state)) {}
  std::shared_ptr<const BrokerState> Get() const {
    absl::ReaderMutexLock lock(&mu_);
    return state_;
  }
  void Set(std::shared_ptr<const BrokerState> state) {
    absl::MutexLock lock(&mu_);
    state_ = std::move(state);
  }

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const BrokerState> state_ ABSL_GUARDED_BY(mu_);
};

}  // namespace latchkey::broker

#endif  // LATCHKEY_BROKER_STATE_HOLDER_H_
