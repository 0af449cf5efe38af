// RequestExecutor is the broker's decision path for one agent request:
// identity → capability → agent access → session → headers → rules → vault,
// with exactly one audit record per decision written before the answer is
// returned. Any failure to audit turns the answer into a refusal.
#ifndef LATCHKEY_BROKER_REQUEST_EXECUTOR_H_
#define LATCHKEY_BROKER_REQUEST_EXECUTOR_H_

#include <string>

#include "broker/approval_registry.h"
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

// ReasonLimit is the longest reason a request to `capability` may carry:
// its max_reason_bytes, defaulted and capped at kMaxReasonBytes.
size_t ReasonLimit(const v1::Capability& capability);

class RequestExecutor {
 public:
  RequestExecutor(const StateHolder* state, SessionRegistry* sessions,
                  VaultEgressClient* vault, AuditRecorder* audit,
                  Clock clock = absl::Now, RateLimiter* limiter = nullptr,
                  ApprovalRegistry* approvals = nullptr)
      : state_(state),
        sessions_(sessions),
        vault_(vault),
        audit_(audit),
        clock_(clock),
        limiter_(limiter),
        approvals_(approvals) {}

  // Execute decides and, if allowed, executes one request. The session
  // check (with revocations), the rate limits and the hand-off to the vault
  // happen under a shared hold of the registry's revocation gate: see
  // session_registry.h for why a revoke is linearizable against it.
  // Rate limit tokens are taken only by requests that passed every other
  // check, i.e. those that would go upstream.
  v1::ExecuteResponse Execute(const Caller& caller,
                              const v1::ExecuteRequest& request);

  // Explain answers what Execute would decide for request.agent(), with
  // the trace of every check (request_explain.cc). It executes, audits and
  // rate-limits nothing.
  v1::ExplainResponse Explain(const v1::ExplainRequest& request) const;
  // ExplainFor is Explain for an agent the broker identified itself
  // (request.agent() is ignored); `agent` null means no valid token.
  v1::ExplainResponse ExplainFor(const AgentIdentity* agent,
                                 const v1::ExplainRequest& request) const;

  // TestCapability runs the capability's health_request through Execute
  // (so it is session-checked, gated, rate-limited and audited like any
  // request) and reports status class, auth and latency, never the body.
  v1::TestCapabilityResponse TestCapability(
      const Caller& caller, const v1::TestCapabilityRequest& request);

  // Approvals, for operators: both first time out due approvals (auditing
  // each). DecideApproval audits the decision with the operator's uid.
  v1::ListApprovalsResponse ListApprovals(
      const v1::ListApprovalsRequest& request);
  absl::StatusOr<v1::Approval> DecideApproval(
      const v1::DecideApprovalRequest& request, uint32_t operator_uid);

 private:
  const StateHolder* state_;
  SessionRegistry* sessions_;
  VaultEgressClient* vault_;
  AuditRecorder* audit_;
  Clock clock_;
  RateLimiter* limiter_;  // may be null: no rate limits.
  // may be null: capabilities that require approval refuse every request.
  ApprovalRegistry* approvals_;

  // AuditTimedOut records one event per approval that just timed out.
  void AuditTimedOut();
};

}  // namespace latchkey::broker

#endif  // LATCHKEY_BROKER_REQUEST_EXECUTOR_H_
