// RequestExecutor is the broker's decision path for one agent request: the
// ordered checks of decision_pipeline.h, a durable intent record, the vault,
// and exactly one outcome record per decision written before the answer is
// returned. Any failure to audit turns the answer into a refusal.
#ifndef LATCHKEY_BROKER_REQUEST_EXECUTOR_H_
#define LATCHKEY_BROKER_REQUEST_EXECUTOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "broker/approval_registry.h"
#include "broker/decision_pipeline.h"
#include "broker/downstream_clients.h"
#include "broker/rate_limiter.h"
#include "broker/session_registry.h"
#include "broker/state_holder.h"
#include "grpcpp/support/sync_stream.h"
#include "proto/broker.pb.h"

namespace latchkey::broker {

// Caller is who is asking, as established by the broker itself.
struct Caller {
  const AgentIdentity *agent = nullptr;  // nullptr: token missing/unknown.
  uint32_t peer_uid = 0;
};

// PendingRequest is one request between its admission (every check up to
// the vault hand-off) and its conclusion (the audit record and the answer).
// Execute and the streaming path (stream_executor.h) share it.
struct PendingRequest {
  absl::Time start;
  // state keeps `capability` alive for the whole request.
  std::shared_ptr<const BrokerState> state;
  const CompiledCapability *capability = nullptr;
  v1::ExecuteResponse response;  // request_id, approval; later the answer.
  v1::AuditEvent event;
  Decision decision;
  // vault_request is what to send the vault, when decision.allowed (its
  // body is left for the caller to fill or stream).
  v1::VaultExecuteRequest vault_request;
};

// ReasonLimit is the longest reason a request to `capability` may carry:
// its max_reason_bytes, defaulted and capped at kMaxReasonBytes.
size_t ReasonLimit(const v1::Capability &capability);

// RequestBodyLimit is the largest request body `capability` accepts:
// limits.max_request_bytes (0: kMaxRequestBodyBytes), capped at
// kMaxRequestBodyBytes for a unary Execute and kMaxStreamedBodyBytes for
// ExecuteStream.
uint64_t RequestBodyLimit(const v1::Capability &capability, bool streamed);

class RequestExecutor {
 public:
  RequestExecutor(const StateHolder *state, SessionRegistry *sessions,
                  VaultEgressClient *vault, AuditRecorder *audit,
                  Clock clock = absl::Now, RateLimiter *limiter = nullptr,
                  ApprovalRegistry *approvals = nullptr)
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
  v1::ExecuteResponse Execute(const Caller &caller,
                              const v1::ExecuteRequest &request);

  // AgentStream is the agent's side of one ExecuteStream call.
  using AgentStream =
      grpc::ServerReaderWriterInterface<v1::ExecuteStreamReply,
                                        v1::ExecuteStreamRequest>;
  // ExecuteStream is Execute with the bodies in chunks (stream_executor.cc):
  // the same Admit and Conclude (so the same checks and the same decision
  // record), the body passed to the vault only after the agent was told
  // ALLOW, the answer passed back chunk by chunk. A record with source
  // "stream-end" (not a decision) gives the byte counts and any mid-body
  // failure.
  // `cancelled` says whether the agent cancelled the call (as opposed to
  // half-closing it): a cancelled upload must never look complete.
  grpc::Status ExecuteStream(const Caller &caller, AgentStream *agent,
                             const std::function<bool()> &cancelled);

  // The three steps of Execute, for the streaming path:
  //  Admit runs every check up to the vault hand-off (identity, capability,
  //  headers, body size, rules, reason, audit reachability, session,
  //  approval, rate limits) and fills vault_request when allowed.
  //  `body_bytes` is the body's size when known (the whole body for
  //  Execute, Content-Length for a stream).
  PendingRequest Admit(const Caller &caller, const v1::ExecuteRequest &request,
                       bool streamed, std::optional<uint64_t> body_bytes);
  //  RecordIntent writes the durable intent record of an allowed request
  //  (audit before effect: nothing may reach the vault, and so the
  //  upstream, unrecorded). False, with the decision turned into
  //  AUDIT_UNAVAILABLE, if it could not be written.
  bool RecordIntent(PendingRequest *pending,
                    std::optional<absl::string_view> body);
  //  ApplyVaultAnswer turns the vault's answer (or failure) into the
  //  decision: a vault refusal, an upstream failure or a redirect the rules
  //  deny becomes a denial; otherwise the response moves into `pending`.
  static void ApplyVaultAnswer(absl::StatusOr<v1::VaultExecuteResponse> answer,
                               PendingRequest *pending);
  //  Conclude writes the one audit record of the decision (a failure to
  //  write it turns the answer into a refusal) and returns the answer.
  v1::ExecuteResponse Conclude(PendingRequest *pending);

  // Explain answers what Execute would decide for request.agent(), with
  // the trace of every check (request_explain.cc). It executes, audits and
  // rate-limits nothing.
  v1::ExplainResponse Explain(const v1::ExplainRequest &request) const;
  // ExplainFor is Explain for an agent the broker identified itself
  // (request.agent() is ignored); `agent` null means no valid token.
  v1::ExplainResponse ExplainFor(const AgentIdentity *agent,
                                 const v1::ExplainRequest &request) const;

  // TestCapability runs the capability's health_request through Execute
  // (so it is session-checked, gated, rate-limited and audited like any
  // request) and reports status class, auth and latency, never the body.
  v1::TestCapabilityResponse TestCapability(
      const Caller &caller, const v1::TestCapabilityRequest &request);

  // Approvals, for operators: both first time out due approvals (auditing
  // each). DecideApproval audits the decision with the operator's uid.
  v1::ListApprovalsResponse ListApprovals(
      const v1::ListApprovalsRequest &request);
  absl::StatusOr<v1::Approval> DecideApproval(
      const v1::DecideApprovalRequest &request, uint32_t operator_uid);

 private:
  const StateHolder *state_;
  SessionRegistry *sessions_;
  VaultEgressClient *vault_;
  AuditRecorder *audit_;
  Clock clock_;
  RateLimiter *limiter_;  // may be null: no rate limits.
  // may be null: capabilities that require approval refuse every request.
  ApprovalRegistry *approvals_;

  // One step of the decision pipeline (decision_pipeline.cc).
  using StepFn = StepOutcome (RequestExecutor::*)(DecisionMode,
                                                  const DecisionInput &,
                                                  DecisionFacts *) const;
  struct DecisionStep {
    const char *check;
    StepFn run;
    // under_gate: this step and every later one run under the shared
    // revocation gate when enforcing, so that nothing checked after a
    // revoke returned is allowed.
    bool under_gate;
  };
  static const DecisionStep kDecisionSteps[];

  // RunPipeline runs kDecisionSteps in order until one refuses, filling
  // `facts` and, if not null, `trace`. Enforcing, it takes `gate` (shared)
  // at the first step that needs it; the caller keeps it until the vault
  // hand-off.
  Decision RunPipeline(DecisionMode mode, const DecisionInput &input,
                       DecisionFacts *facts, std::vector<TracedStep> *trace,
                       std::shared_lock<RwLock> *gate) const;

  StepOutcome CheckIdentity(DecisionMode, const DecisionInput &,
                            DecisionFacts *) const;
  StepOutcome CheckIdentifiers(DecisionMode, const DecisionInput &,
                               DecisionFacts *) const;
  StepOutcome CheckCapability(DecisionMode, const DecisionInput &,
                              DecisionFacts *) const;
  StepOutcome CheckAgentAccess(DecisionMode, const DecisionInput &,
                               DecisionFacts *) const;
  StepOutcome CheckRevocation(DecisionMode, const DecisionInput &,
                              DecisionFacts *) const;
  StepOutcome CheckSession(DecisionMode, const DecisionInput &,
                           DecisionFacts *) const;
  StepOutcome CheckRequestShape(DecisionMode, const DecisionInput &,
                                DecisionFacts *) const;
  StepOutcome CheckRules(DecisionMode, const DecisionInput &,
                         DecisionFacts *) const;
  StepOutcome CheckReason(DecisionMode, const DecisionInput &,
                          DecisionFacts *) const;
  StepOutcome CheckAudit(DecisionMode, const DecisionInput &,
                         DecisionFacts *) const;
  StepOutcome CheckApproval(DecisionMode, const DecisionInput &,
                            DecisionFacts *) const;
  StepOutcome CheckRateLimit(DecisionMode, const DecisionInput &,
                             DecisionFacts *) const;

  // RecordStreamEnd writes the "stream-end" record of a streamed request.
  void RecordStreamEnd(const PendingRequest &pending, const v1::StreamEnd &end,
                       absl::string_view failure);

  // AuditTimedOut records one event per approval that just timed out.
  void AuditTimedOut();
};

}  // namespace latchkey::broker

#endif  // LATCHKEY_BROKER_REQUEST_EXECUTOR_H_
