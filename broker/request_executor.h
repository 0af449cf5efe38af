// RequestExecutor is the broker's decision path for one agent request:
// identity → capability → agent access → session → headers → rules → vault,
// with exactly one audit record per decision written before the answer is
// returned. Any failure to audit turns the answer into a refusal.
#ifndef LATCHKEY_BROKER_REQUEST_EXECUTOR_H_
#define LATCHKEY_BROKER_REQUEST_EXECUTOR_H_

#include <string>

#include "broker/downstream_clients.h"
#include "broker/rate_limiter.h"
#include "broker/session_registry.h"
#include "broker/state_holder.h"
#include "proto/broker.pb.h"

namespace latchkey::broker {

// Caller is who is asking, as established by the broker itself.
struct Caller {
  const AgentIdentity* agent = nullptr;  // nullptr: token missing/unknown.
  uint32_t peer_uid = 0;
};

class RequestExecutor {
 public:
  RequestExecutor(const StateHolder* state, SessionRegistry* sessions,
                  VaultEgressClient* vault, AuditRecorder* audit,
                  Clock clock = absl::Now, RateLimiter* limiter = nullptr)
      : state_(state),
        sessions_(sessions),
        vault_(vault),
        audit_(audit),
        clock_(clock),
        limiter_(limiter) {}

  // Execute decides and, if allowed, executes one request. The session
  // check (with revocations), the rate limits and the hand-off to the vault
  // happen under a shared hold of the registry's revocation gate: see
  // session_registry.h for why a revoke is linearizable against it.
  // Rate limit tokens are taken only by requests that passed every other
  // check, i.e. those that would go upstream.
  v1::ExecuteResponse Execute(const Caller& caller,
                              const v1::ExecuteRequest& request);

  // Explain answers what Execute's policy check would decide for an agent,
  // without a session and without executing or auditing anything.
  v1::ExplainResponse Explain(const v1::ExplainRequest& request) const;

 private:
  const StateHolder* state_;
  SessionRegistry* sessions_;
  VaultEgressClient* vault_;
  AuditRecorder* audit_;
  Clock clock_;
  RateLimiter* limiter_;  // may be null: no rate limits.
};

}  // namespace latchkey::broker

#endif  // LATCHKEY_BROKER_REQUEST_EXECUTOR_H_
