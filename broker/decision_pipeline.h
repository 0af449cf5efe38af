// The broker's one ordered list of checks. Execute and ExecuteStream run it
// to decide (DecisionMode::kEnforce); Explain and the agents' explain_access
// run the very same list to show the decision (kExplain), step by step.
// Where the two modes differ, the difference is inside one step and says
// why (explain consumes no rate-limit token and creates no approval).
//
// Order (decision_pipeline.cc, kDecisionSteps): identity, identifiers,
// capability, agent_access, revocation, session, request, rules, reason,
// audit, approval, rate_limit. A session refusal therefore outranks any
// complaint about the request itself: an agent learns first that its
// session is gone.
#ifndef LATCHKEY_BROKER_DECISION_PIPELINE_H_
#define LATCHKEY_BROKER_DECISION_PIPELINE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "broker/approval_registry.h"
#include "broker/broker_config.h"
#include "google/protobuf/repeated_field.h"
#include "proto/broker.pb.h"
#include "rules/policy_engine.h"

namespace latchkey::broker {

enum class DecisionMode { kEnforce, kExplain };

// Decision is the verdict as it is built up, before it is audited.
struct Decision {
  bool allowed = false;
  v1::ReasonCode code = v1::REASON_UNSPECIFIED;
  std::string message;
  std::string rule;
  absl::Duration retry_after = absl::ZeroDuration();
};

// DecisionInput is a request as the checks see it, whichever RPC brought
// it. Pointers may be null where the RPC has no such part (Explain has no
// headers, query or body).
struct DecisionInput {
  const AgentIdentity* agent = nullptr;  // null: no valid token
  std::string capability;
  std::string session_id;
  std::string approval_id;
  std::string reason;
  std::string method;
  std::string path;
  const google::protobuf::RepeatedPtrField<v1::Header>* headers = nullptr;
  const google::protobuf::RepeatedPtrField<v1::QueryParam>* query = nullptr;
  // body: the whole body when it is known (unary Execute).
  std::optional<absl::string_view> body;
  bool streamed = false;
  // body_in_stream_head: a streamed request whose head carried a body
  // (a streamed body travels in body_chunk messages).
  bool body_in_stream_head = false;
  // body_bytes: the body's size when known (Content-Length for a stream).
  std::optional<uint64_t> body_bytes;
  std::string request_id;
};

// DecisionFacts is what the checks establish as they go.
struct DecisionFacts {
  const BrokerState* state = nullptr;
  const AgentIdentity* agent = nullptr;
  const CompiledCapability* capability = nullptr;
  policy::PolicyDecision policy;  // set by the rules step
  ApprovalGate approval;          // set by the approval step (enforce)
};

// StepOutcome is one check's answer: passed, or the denial.
struct StepOutcome {
  bool passed = true;
  Decision denial;
  std::string detail;  // what was checked, for the trace
};

// TracedStep is one line of an explain trace.
struct TracedStep {
  std::string check;
  bool passed = true;
  std::string detail;
  v1::ReasonCode code = v1::REASON_UNSPECIFIED;
};

}  // namespace latchkey::broker

#endif  // LATCHKEY_BROKER_DECISION_PIPELINE_H_
