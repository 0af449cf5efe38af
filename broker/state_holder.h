// StateHolder publishes the current compiled configuration. Requests take a
// snapshot (a shared_ptr) so that a reload never changes the rules under a
// request that is being decided.
#ifndef LATCHKEY_BROKER_STATE_HOLDER_H_
#define LATCHKEY_BROKER_STATE_HOLDER_H_

#include <memory>
#include <mutex>
#include <shared_mutex>

#include "broker/broker_config.h"

namespace latchkey::broker {

class StateHolder {
 public:
  explicit StateHolder(std::shared_ptr<const BrokerState> state)
      : state_(std::move(state)) {}
  std::shared_ptr<const BrokerState> Get() const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    return state_;
  }
  void Set(std::shared_ptr<const BrokerState> state) {
    std::unique_lock<std::shared_mutex> lock(mu_);
    state_ = std::move(state);
  }

 private:
  // std::shared_mutex rather than absl::Mutex: TSan sees it.
  mutable std::shared_mutex mu_;
  std::shared_ptr<const BrokerState> state_;  // guarded by mu_
};

}  // namespace latchkey::broker

#endif  // LATCHKEY_BROKER_STATE_HOLDER_H_
