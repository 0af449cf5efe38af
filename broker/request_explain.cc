// RequestExecutor::Explain and ExplainFor: the decision trace of a request
// an agent might make, check by check in the order Execute makes them,
// with each rule considered. Nothing is executed, audited or rate-limited.
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "broker/rate_limiter.h"
#include "broker/request_executor.h"
#include "rules/header_policy.h"
#include "common/limits.h"
#include "common/reason_text.h"

namespace latchkey::broker {
namespace {

const char* ModeText(v1::ApprovalMode mode) {
  switch (mode) {
    case v1::APPROVAL_MODE_FIRST_REQUEST_OF_SESSION:
      return "the first request of each session";
    case v1::APPROVAL_MODE_EVERY_REQUEST:
      return "every request";
    default:
      return "no request";
  }
}

// Trace builds the response step by step; Deny ends it.
class Trace {
 public:
  explicit Trace(v1::ExplainResponse* response) : response_(response) {}

  void Pass(const char* check, std::string detail) {
    v1::TraceStep* step = response_->add_trace();
    step->set_check(check);
    step->set_passed(true);
    step->set_detail(std::move(detail));
  }
  v1::ExplainResponse& Deny(const char* check, v1::ReasonCode code,
                            std::string message, std::string rule = "") {
    v1::TraceStep* step = response_->add_trace();
    step->set_check(check);
    step->set_passed(false);
    step->set_detail(message);
    step->set_code(code);
    response_->set_decision(v1::DECISION_DENY);
    v1::Denial* denial = response_->mutable_denial();
    denial->set_code(code);
    denial->set_message(std::move(message));
    denial->set_next_step(NextStep(code));
    denial->set_rule(std::move(rule));
    return *response_;
  }

 private:
  v1::ExplainResponse* response_;
};

// RuleText is "rules[i] EFFECT METHODS PATH".
std::string RuleText(int index, const v1::Rule& rule) {
  return absl::StrCat("rules[", index, "] ",
                      rule.effect() == v1::Rule::DENY ? "DENY" : "ALLOW", " ",
                      absl::StrJoin(rule.methods(), ","), " ", rule.path());
}

// RulesConsidered says, for each rule, whether it matches the request: each
// rule is compiled on its own (explain is rare; Execute never does this).
std::string RulesConsidered(const v1::Capability& capability,
                            absl::string_view method,
                            absl::string_view normalized_path) {
  std::vector<std::string> lines;
  for (int i = 0; i < capability.rules_size(); ++i) {
    google::protobuf::RepeatedPtrField<v1::Rule> one;
    *one.Add() = capability.rules(i);
    absl::StatusOr<policy::PolicyEngine> engine =
        policy::PolicyEngine::Compile(one);
    bool matches =
        engine.ok() && engine->Decide(method, normalized_path).code !=
                           v1::REASON_NO_RULE_MATCHED;
    lines.push_back(absl::StrCat(RuleText(i, capability.rules(i)),
                                 matches ? ": matches" : ": no match"));
  }
  if (lines.empty()) return "the capability has no rules (all denied)";
  return absl::StrJoin(lines, "; ");
}

}  // namespace

v1::ExplainResponse RequestExecutor::Explain(
    const v1::ExplainRequest& request) const {
  std::shared_ptr<const BrokerState> state = state_->Get();
  const AgentIdentity* agent = state->FindAgentByName(request.agent());
  if (agent == nullptr) {
    v1::ExplainResponse response;
    Trace(&response).Deny("identity", v1::REASON_UNAUTHENTICATED,
                          absl::StrCat("there is no agent named '",
                                       request.agent().substr(0, 128), "'"));
    return response;
  }
  return ExplainFor(agent, request);
}

v1::ExplainResponse RequestExecutor::ExplainFor(
    const AgentIdentity* agent, const v1::ExplainRequest& request) const {
  std::shared_ptr<const BrokerState> state = state_->Get();
  v1::ExplainResponse response;
  Trace trace(&response);
  if (agent == nullptr) {
    return trace.Deny("identity", v1::REASON_UNAUTHENTICATED,
                      "no valid agent token was presented");
  }
  const std::string& name = agent->config.name();
  trace.Pass("identity", absl::StrCat("agent '", name, "'"));
  // The agent named here is the broker's: re-resolve it in this snapshot.
  agent = state->FindAgentByName(name);
  if (agent == nullptr) {
    return trace.Deny("identity", v1::REASON_UNAUTHENTICATED,
                      absl::StrCat("agent '", name, "' no longer exists"));
  }
  const CompiledCapability* capability =
      state->FindCapability(request.capability());
  if (capability == nullptr) {
    return trace.Deny("capability", v1::REASON_CAPABILITY_NOT_FOUND,
                      absl::StrCat("there is no capability named '",
                                   request.capability().substr(0, 128), "'"));
  }
  const v1::Capability& config = capability->config;
  trace.Pass("capability", absl::StrCat("'", config.name(), "' on ",
                                        capability->origin.ToString()));
  if (!BrokerState::AgentMayUse(*agent, *capability)) {
    return trace.Deny(
        "agent_access", v1::REASON_AGENT_NOT_ALLOWED,
        absl::StrCat("agent '", name, "' may not use capability '",
                     config.name(), "'"));
  }
  trace.Pass("agent_access",
             absl::StrCat("the capability lists agent '", name, "'"));
  if (std::optional<std::string> refusal =
          sessions_->Refusal(name, config.name())) {
    return trace.Deny("revocation", v1::REASON_SESSION_REVOKED, *refusal);
  }
  trace.Pass("revocation", "no standing revocation applies");
  if (!request.session_id().empty()) {
    SessionCheck session =
        sessions_->Check(request.session_id(), name, config.name());
    if (!session.ok) {
      return trace.Deny("session", session.code, session.message);
    }
    trace.Pass("session", "the session is open and covers the capability");
  } else {
    trace.Pass("session", "not checked: no session was given");
  }
  if (request.reason().size() > ReasonLimit(config)) {
    return trace.Deny("request", v1::REASON_INVALID_REQUEST,
                      absl::StrCat("reason is ", request.reason().size(),
                                   " bytes; this capability accepts at most ",
                                   ReasonLimit(config), " bytes"));
  }
  trace.Pass("request", "method, path and reason are well-formed so far");
  policy::PolicyDecision decision =
      capability->policy.CheckRequest(request.method(), request.path());
  response.set_normalized_path(decision.normalized_path);
  response.set_rule(decision.rule);
  if (decision.code == v1::REASON_PATH_REJECTED ||
      decision.code == v1::REASON_INVALID_REQUEST) {
    return trace.Deny("rules", decision.code, decision.message, decision.rule);
  }
  std::string considered =
      RulesConsidered(config, request.method(), decision.normalized_path);
  if (!decision.allowed) {
    return trace.Deny(
        "rules", decision.code,
        absl::StrCat(decision.message, " Rules considered: ", considered),
        decision.rule);
  }
  trace.Pass("rules", absl::StrCat("allowed by ", decision.rule,
                                   ". Rules considered: ", considered));
  if (config.require_reason()) {
    if (absl::StripAsciiWhitespace(request.reason()).empty()) {
      return trace.Deny("reason", v1::REASON_REASON_REQUIRED,
                        absl::StrCat("capability '", config.name(),
                                     "' requires a reason on every request"));
    }
    trace.Pass("reason", "a reason is required and was given");
  } else {
    trace.Pass("reason", "no reason required");
  }
  if (config.approval() != v1::APPROVAL_MODE_NONE) {
    bool approved =
        approvals_ != nullptr && !request.session_id().empty() &&
        config.approval() == v1::APPROVAL_MODE_FIRST_REQUEST_OF_SESSION &&
        approvals_->SessionApproved(name, request.session_id(), config.name());
    if (!approved) {
      return trace.Deny(
          "approval", v1::REASON_APPROVAL_PENDING,
          absl::StrCat("an operator must approve ", ModeText(config.approval()),
                       " to this capability; execute returns an approval_id "
                       "to poll with"));
    }
    trace.Pass("approval", "this session was approved by an operator");
  } else {
    trace.Pass("approval", "no approval required");
  }
  std::vector<std::string> limits;
  if (config.rate_limit().requests_per_minute() > 0) {
    limits.push_back(
        absl::StrCat("capability: ", RateLimitText(config.rate_limit())));
  }
  if (agent->config.rate_limit().requests_per_minute() > 0) {
    limits.push_back(
        absl::StrCat("agent: ", RateLimitText(agent->config.rate_limit())));
  }
  if (agent->config.session_rate_limit().requests_per_minute() > 0) {
    limits.push_back(absl::StrCat(
        "session: ", RateLimitText(agent->config.session_rate_limit())));
  }
  trace.Pass("rate_limit",
             limits.empty()
                 ? std::string("no rate limit applies")
                 : absl::StrCat("not consumed by explain; limits: ",
                                absl::StrJoin(limits, "; "),
                                ". execute returns RATE_LIMITED with "
                                "retry_after when one is reached"));
  response.set_decision(v1::DECISION_ALLOW);
  return response;
}

}  // namespace latchkey::broker
