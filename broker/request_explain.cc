// RequestExecutor::Explain and ExplainFor: the decision trace of a request
// an agent might make, from the decision pipeline Execute runs
// (decision_pipeline.h), with each rule considered. Nothing is executed,
// audited, approved or rate-limited.
#include "absl/strings/str_cat.h"
#include "broker/request_executor.h"
#include "common/reason_text.h"
#include "rules/identifiers.h"

namespace latchkey::broker {

v1::ExplainResponse RequestExecutor::Explain(
    const v1::ExplainRequest& request) const {
  std::shared_ptr<const BrokerState> state = state_->Get();
  const AgentIdentity* agent = state->FindAgentByName(request.agent());
  if (agent == nullptr) {
    v1::ExplainResponse response;
    std::string message = absl::StrCat(
        "there is no agent named '", PrintableIdentifier(request.agent()), "'");
    v1::TraceStep* step = response.add_trace();
    step->set_check("identity");
    step->set_passed(false);
    step->set_detail(message);
    step->set_code(v1::REASON_UNAUTHENTICATED);
    response.set_decision(v1::DECISION_DENY);
    v1::Denial* denial = response.mutable_denial();
    denial->set_code(v1::REASON_UNAUTHENTICATED);
    denial->set_message(std::move(message));
    denial->set_next_step(NextStep(v1::REASON_UNAUTHENTICATED));
    return response;
  }
  return ExplainFor(agent, request);
}

v1::ExplainResponse RequestExecutor::ExplainFor(
    const AgentIdentity* agent, const v1::ExplainRequest& request) const {
  std::shared_ptr<const BrokerState> state = state_->Get();
  DecisionInput input;
  input.agent = agent;
  input.capability = request.capability();
  input.session_id = request.session_id();
  input.reason = request.reason();
  input.method = request.method();
  input.path = request.path();
  DecisionFacts facts;
  facts.state = state.get();
  std::vector<TracedStep> steps;
  // The same ordered checks Execute runs, in explain mode: nothing is
  // executed, audited, approved or rate-limited.
  Decision decision = RunPipeline(DecisionMode::kExplain, input, &facts, &steps,
                                  /*gate=*/nullptr);
  v1::ExplainResponse response;
  for (const TracedStep& step : steps) {
    v1::TraceStep* traced = response.add_trace();
    traced->set_check(step.check);
    traced->set_passed(step.passed);
    traced->set_detail(step.detail);
    if (!step.passed) traced->set_code(step.code);
  }
  response.set_normalized_path(facts.policy.normalized_path);
  response.set_rule(facts.policy.rule);
  if (decision.allowed) {
    response.set_decision(v1::DECISION_ALLOW);
    return response;
  }
  response.set_decision(v1::DECISION_DENY);
  v1::Denial* denial = response.mutable_denial();
  denial->set_code(decision.code);
  denial->set_message(decision.message);
  denial->set_next_step(NextStep(decision.code));
  denial->set_rule(decision.rule);
  return response;
}

}  // namespace latchkey::broker
