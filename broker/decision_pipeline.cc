// The steps of the decision pipeline (decision_pipeline.h), in order, and
// the runner that Execute, ExecuteStream and Explain share.
#include "broker/decision_pipeline.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "broker/rate_limiter.h"
#include "broker/request_executor.h"
#include "common/limits.h"
#include "common/recordable_event.h"
#include "rules/header_policy.h"
#include "rules/identifiers.h"
#include "rules/request_digest.h"

namespace latchkey::broker {
namespace {

StepOutcome Pass(std::string detail) {
  StepOutcome out;
  out.detail = std::move(detail);
  return out;
}

StepOutcome Refuse(v1::ReasonCode code, std::string message,
                   std::string rule = "") {
  StepOutcome out;
  out.passed = false;
  out.denial = {false, code, std::move(message), std::move(rule)};
  return out;
}

const char *ModeText(v1::ApprovalMode mode) {
  switch (mode) {
    case v1::APPROVAL_MODE_FIRST_REQUEST_OF_SESSION:
      return "the first request of each session";
    case v1::APPROVAL_MODE_EVERY_REQUEST:
      return "every request";
    default:
      return "no request";
  }
}

// RuleText is "rules[i] EFFECT METHODS PATH".
std::string RuleText(int index, const v1::Rule &rule) {
  return absl::StrCat("rules[", index, "] ",
                      rule.effect() == v1::Rule::DENY ? "DENY" : "ALLOW", " ",
                      absl::StrJoin(rule.methods(), ","), " ", rule.path());
}

// RulesConsidered says, for each rule, whether it matches the request: each
// rule is compiled on its own (explain is rare; Execute never does this).
std::string RulesConsidered(const v1::Capability &capability,
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

// At most this much of the query and of the body is shown to the operator
// who decides an approval.
constexpr size_t kMaxApprovalPreviewBytes = 512;

// QueryText renders query parameters as name=value&... for an operator.
std::string QueryText(
    const google::protobuf::RepeatedPtrField<v1::QueryParam> &query) {
  std::string out;
  for (const v1::QueryParam &param : query) {
    if (!out.empty()) out += '&';
    absl::StrAppend(&out, param.name(), "=", param.value());
  }
  return out;
}

const google::protobuf::RepeatedPtrField<v1::Header> &HeadersOf(
    const DecisionInput &input) {
  static const auto *const kNone =
      new google::protobuf::RepeatedPtrField<v1::Header>();
  return input.headers != nullptr ? *input.headers : *kNone;
}

const google::protobuf::RepeatedPtrField<v1::QueryParam> &QueryOf(
    const DecisionInput &input) {
  static const auto *const kNone =
      new google::protobuf::RepeatedPtrField<v1::QueryParam>();
  return input.query != nullptr ? *input.query : *kNone;
}

}  // namespace

const RequestExecutor::DecisionStep RequestExecutor::kDecisionSteps[] = {
    {"identity", &RequestExecutor::CheckIdentity, false},
    {"identifiers", &RequestExecutor::CheckIdentifiers, false},
    {"capability", &RequestExecutor::CheckCapability, false},
    {"agent_access", &RequestExecutor::CheckAgentAccess, false},
    {"revocation", &RequestExecutor::CheckRevocation, true},
    {"session", &RequestExecutor::CheckSession, true},
    {"request", &RequestExecutor::CheckRequestShape, true},
    {"rules", &RequestExecutor::CheckRules, true},
    {"reason", &RequestExecutor::CheckReason, true},
    {"audit", &RequestExecutor::CheckAudit, true},
    {"approval", &RequestExecutor::CheckApproval, true},
    {"rate_limit", &RequestExecutor::CheckRateLimit, true},
};

Decision RequestExecutor::RunPipeline(DecisionMode mode,
                                      const DecisionInput &input,
                                      DecisionFacts *facts,
                                      std::vector<TracedStep> *trace,
                                      std::shared_lock<RwLock> *gate) const {
  for (const DecisionStep &step : kDecisionSteps) {
    if (mode == DecisionMode::kEnforce && step.under_gate && gate != nullptr &&
        !gate->owns_lock()) {
      gate->lock();
    }
    StepOutcome outcome = (this->*step.run)(mode, input, facts);
    if (trace != nullptr) {
      trace->push_back(
          {step.check, outcome.passed,
           outcome.passed ? outcome.detail : outcome.denial.message,
           outcome.passed ? v1::REASON_UNSPECIFIED : outcome.denial.code});
    }
    if (!outcome.passed) return outcome.denial;
  }
  Decision allowed;
  allowed.allowed = true;
  allowed.code = v1::REASON_ALLOWED;
  allowed.message = facts->policy.message;
  allowed.rule = facts->policy.rule;
  return allowed;
}

StepOutcome RequestExecutor::CheckIdentity(DecisionMode mode,
                                           const DecisionInput &input,
                                           DecisionFacts *facts) const {
  if (input.agent == nullptr) {
    return Refuse(v1::REASON_UNAUTHENTICATED,
                  "no valid agent token was presented");
  }
  const std::string &name = input.agent->config.name();
  facts->agent = input.agent;
  if (mode == DecisionMode::kExplain) {
    // The agent named here may come from another snapshot: resolve it in
    // this one.
    facts->agent = facts->state->FindAgentByName(name);
    if (facts->agent == nullptr) {
      return Refuse(v1::REASON_UNAUTHENTICATED,
                    absl::StrCat("agent '", name, "' no longer exists"));
    }
  }
  return Pass(absl::StrCat("agent '", name, "'"));
}

StepOutcome RequestExecutor::CheckIdentifiers(DecisionMode,
                                              const DecisionInput &input,
                                              DecisionFacts *) const {
  // Checked whole before anything else looks at them: a malformed one is
  // refused, never cut (cutting made records unparsable).
  for (const auto &[what, value, may_be_empty] :
       {std::tuple<const char *, const std::string &, bool>{
            "capability", input.capability, false},
        {"session_id", input.session_id, true},
        {"approval_id", input.approval_id, true}}) {
    if (absl::Status ok = CheckIdentifier(what, value, may_be_empty);
        !ok.ok()) {
      return Refuse(v1::REASON_INVALID_REQUEST, std::string(ok.message()));
    }
  }
  return Pass("capability, session and approval ids are well-formed");
}

StepOutcome RequestExecutor::CheckCapability(DecisionMode,
                                             const DecisionInput &input,
                                             DecisionFacts *facts) const {
  facts->capability = facts->state->FindCapability(input.capability);
  if (facts->capability == nullptr) {
    return Refuse(
        v1::REASON_CAPABILITY_NOT_FOUND,
        absl::StrCat("there is no capability named '", input.capability, "'"));
  }
  return Pass(absl::StrCat("'", facts->capability->config.name(), "' on ",
                           facts->capability->origin.ToString()));
}

StepOutcome RequestExecutor::CheckAgentAccess(DecisionMode,
                                              const DecisionInput &,
                                              DecisionFacts *facts) const {
  const std::string &agent = facts->agent->config.name();
  const std::string &capability = facts->capability->config.name();
  if (!BrokerState::AgentMayUse(*facts->agent, *facts->capability)) {
    return Refuse(v1::REASON_AGENT_NOT_ALLOWED,
                  absl::StrCat("agent '", agent, "' may not use capability '",
                               capability, "'"));
  }
  return Pass(absl::StrCat("the capability lists agent '", agent, "'"));
}

StepOutcome RequestExecutor::CheckRevocation(DecisionMode,
                                             const DecisionInput &,
                                             DecisionFacts *facts) const {
  if (std::optional<std::string> refusal = sessions_->Refusal(
          facts->agent->config.name(), facts->capability->config.name())) {
    return Refuse(v1::REASON_SESSION_REVOKED, *refusal);
  }
  return Pass("no standing revocation applies");
}

StepOutcome RequestExecutor::CheckSession(DecisionMode mode,
                                          const DecisionInput &input,
                                          DecisionFacts *facts) const {
  if (mode == DecisionMode::kExplain && input.session_id.empty()) {
    return Pass("not checked: no session was given");
  }
  SessionCheck session =
      sessions_->Check(input.session_id, facts->agent->config.name(),
                       facts->capability->config.name());
  if (!session.ok) return Refuse(session.code, session.message);
  return Pass("the session is open and covers the capability");
}

StepOutcome RequestExecutor::CheckRequestShape(DecisionMode,
                                               const DecisionInput &input,
                                               DecisionFacts *facts) const {
  const v1::Capability &config = facts->capability->config;
  if (input.body_in_stream_head) {
    return Refuse(v1::REASON_INVALID_REQUEST,
                  "a streamed request carries its body in body_chunk "
                  "messages after the head, not in the head");
  }
  if (absl::Status headers = CheckAgentHeaders(
          HeadersOf(input), facts->capability->request_rules, input.streamed);
      !headers.ok()) {
    return Refuse(v1::REASON_INVALID_REQUEST, std::string(headers.message()));
  }
  if (input.body_bytes.has_value() &&
      *input.body_bytes > RequestBodyLimit(config, input.streamed)) {
    return Refuse(
        v1::REASON_INVALID_REQUEST,
        absl::StrCat("request body is ", *input.body_bytes,
                     " bytes; this capability accepts at most ",
                     RequestBodyLimit(config, input.streamed), " bytes",
                     input.streamed ? "" : " in one message"));
  }
  if (input.reason.size() > ReasonLimit(config)) {
    return Refuse(v1::REASON_INVALID_REQUEST,
                  absl::StrCat("reason is ", input.reason.size(),
                               " bytes; this capability accepts at most ",
                               ReasonLimit(config),
                               " bytes: shorten it to one sentence"));
  }
  return Pass("headers, body size and reason are well-formed");
}

StepOutcome RequestExecutor::CheckRules(DecisionMode mode,
                                        const DecisionInput &input,
                                        DecisionFacts *facts) const {
  facts->policy =
      facts->capability->policy.CheckRequest(input.method, input.path);
  const policy::PolicyDecision &decision = facts->policy;
  if (decision.code == v1::REASON_PATH_REJECTED ||
      decision.code == v1::REASON_INVALID_REQUEST) {
    return Refuse(decision.code, decision.message, decision.rule);
  }
  std::string considered;
  if (mode == DecisionMode::kExplain) {
    considered =
        absl::StrCat(" Rules considered: ",
                     RulesConsidered(facts->capability->config, input.method,
                                     decision.normalized_path));
  }
  if (!decision.allowed) {
    return Refuse(decision.code, absl::StrCat(decision.message, considered),
                  decision.rule);
  }
  return Pass(absl::StrCat("allowed by ", decision.rule, ".", considered));
}

StepOutcome RequestExecutor::CheckReason(DecisionMode,
                                         const DecisionInput &input,
                                         DecisionFacts *facts) const {
  const v1::Capability &config = facts->capability->config;
  if (!config.require_reason()) return Pass("no reason required");
  // The reason gate only asks for a reason; what it says never decides.
  if (absl::StripAsciiWhitespace(input.reason).empty()) {
    return Refuse(v1::REASON_REASON_REQUIRED,
                  absl::StrCat("capability '", config.name(),
                               "' requires a reason on every request"));
  }
  return Pass("a reason is required and was given");
}

StepOutcome RequestExecutor::CheckAudit(DecisionMode mode,
                                        const DecisionInput &,
                                        DecisionFacts *) const {
  if (mode == DecisionMode::kExplain) {
    return Pass(
        "not checked by explain: execute refuses when the audit "
        "log is unreachable");
  }
  // Fail closed before anything is executed upstream (the intent record
  // would fail too, but only after an approval or a rate-limit token was
  // spent).
  if (!audit_->Reachable()) {
    return Refuse(v1::REASON_AUDIT_UNAVAILABLE,
                  "the audit log is unreachable, so nothing may be executed");
  }
  return Pass("the audit log is reachable");
}

StepOutcome RequestExecutor::CheckApproval(DecisionMode mode,
                                           const DecisionInput &input,
                                           DecisionFacts *facts) const {
  const v1::Capability &config = facts->capability->config;
  const std::string &agent = facts->agent->config.name();
  if (config.approval() == v1::APPROVAL_MODE_NONE) {
    return Pass("no approval required");
  }
  if (config.approval() == v1::APPROVAL_MODE_EVERY_REQUEST && input.streamed &&
      input.body_bytes != std::optional<uint64_t>(0)) {
    // The approval covers the body, which a stream only brings later.
    return Refuse(v1::REASON_INVALID_REQUEST,
                  absl::StrCat("capability '", config.name(),
                               "' needs an operator's approval of every "
                               "request, body included, so a streamed body "
                               "cannot be used: send it with execute (at "
                               "most 8 MiB)"));
  }
  if (mode == DecisionMode::kExplain) {
    bool approved =
        approvals_ != nullptr && !input.session_id.empty() &&
        config.approval() == v1::APPROVAL_MODE_FIRST_REQUEST_OF_SESSION &&
        approvals_->SessionApproved(agent, input.session_id, config.name());
    if (!approved) {
      return Refuse(
          v1::REASON_APPROVAL_PENDING,
          absl::StrCat("an operator must approve ", ModeText(config.approval()),
                       " to this capability; execute returns an approval_id "
                       "to poll with"));
    }
    return Pass("this session was approved by an operator");
  }
  if (approvals_ == nullptr) {
    return Refuse(v1::REASON_APPROVAL_PENDING,
                  "this broker has no approval store, so a capability that "
                  "requires approval cannot be used");
  }
  ApprovalAsk ask;
  ask.agent = agent;
  ask.session_id = input.session_id;
  ask.capability = config.name();
  ask.method = input.method;
  ask.path = facts->policy.normalized_path;
  ask.reason = RecordableText(input.reason, kMaxReasonBytes);
  ask.request_id = input.request_id;
  ask.mode = config.approval();
  ask.timeout = ApprovalTimeout(config);
  ask.approval_id = input.approval_id;
  ask.request_sha256 = DigestRequest(ask.method, ask.path, QueryOf(input),
                                     HeadersOf(input), input.body)
                           .request_sha256;
  ask.query =
      RecordableText(QueryText(QueryOf(input)), kMaxApprovalPreviewBytes);
  ask.body_bytes = input.body_bytes.value_or(0);
  if (input.body.has_value()) {
    ask.body_preview =
        RecordableText(input.body->substr(0, kMaxApprovalPreviewBytes),
                       kMaxApprovalPreviewBytes);
  }
  facts->approval = approvals_->Check(ask);
  if (!facts->approval.pass) {
    return Refuse(facts->approval.code, facts->approval.message);
  }
  return Pass("an operator approved");
}

StepOutcome RequestExecutor::CheckRateLimit(DecisionMode mode,
                                            const DecisionInput &input,
                                            DecisionFacts *facts) const {
  const v1::Capability &config = facts->capability->config;
  const v1::Agent &agent = facts->agent->config;
  if (mode == DecisionMode::kExplain) {
    std::vector<std::string> limits;
    if (config.rate_limit().requests_per_minute() > 0) {
      limits.push_back(
          absl::StrCat("capability: ", RateLimitText(config.rate_limit())));
    }
    if (agent.rate_limit().requests_per_minute() > 0) {
      limits.push_back(
          absl::StrCat("agent: ", RateLimitText(agent.rate_limit())));
    }
    if (agent.session_rate_limit().requests_per_minute() > 0) {
      limits.push_back(
          absl::StrCat("session: ", RateLimitText(agent.session_rate_limit())));
    }
    return Pass(limits.empty()
                    ? std::string("no rate limit applies")
                    : absl::StrCat("not consumed by explain; limits: ",
                                   absl::StrJoin(limits, "; "),
                                   ". execute returns RATE_LIMITED with "
                                   "retry_after when one is reached"));
  }
  if (limiter_ == nullptr) return Pass("no rate limiter");
  std::optional<RateLimitRefusal> limited = limiter_->Acquire(
      {{absl::StrCat("agent:", agent.name()),
        absl::StrCat("agent '", agent.name(), "'"), agent.rate_limit()},
       {absl::StrCat("capability:", config.name()),
        absl::StrCat("capability '", config.name(), "'"), config.rate_limit()},
       {absl::StrCat("session:", input.session_id), "session",
        agent.session_rate_limit()}});
  if (limited.has_value()) {
    StepOutcome out = Refuse(
        v1::REASON_RATE_LIMITED,
        absl::StrCat("the ", limited->limit, " was reached; retry after ",
                     absl::FormatDuration(limited->retry_after)),
        limited->limit);
    out.denial.retry_after = limited->retry_after;
    return out;
  }
  return Pass("within the rate limits");
}

}  // namespace latchkey::broker
