// RequestExecutor's health test and the operators' side of the approval
// gate. Both go through the one decision path (Execute) or the one audit
// recorder, so nothing here decides or records on its own terms.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "broker/request_executor.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/reason_text.h"

namespace latchkey::broker {
namespace {

// The reason stated for a health request: it satisfies a reason gate, and
// says in the audit log that this was test_capability. It is cut to the
// capability's reason limit, so that limit never refuses a health check.
constexpr absl::string_view kHealthReason = "test_capability: health check";

std::string StatusClass(int32_t status) {
  if (status < 100 || status > 599) return "";
  return absl::StrCat(status / 100, "xx");
}

}  // namespace

v1::TestCapabilityResponse RequestExecutor::TestCapability(
    const Caller& caller, const v1::TestCapabilityRequest& request) {
  v1::TestCapabilityResponse out;
  std::shared_ptr<const BrokerState> state = state_->Get();
  const CompiledCapability* capability =
      state->FindCapability(request.capability());
  v1::ExecuteRequest execute;
  execute.set_session_id(request.session_id());
  execute.set_capability(request.capability());
  execute.set_reason(std::string(kHealthReason));
  execute.set_approval_id(request.approval_id());
  execute.mutable_request()->set_method("GET");
  execute.mutable_request()->set_path("/");
  if (capability != nullptr && caller.agent != nullptr &&
      BrokerState::AgentMayUse(*caller.agent, *capability)) {
    const v1::HealthRequest& health = capability->config.health_request();
    if (health.path().empty()) {
      // Nothing is sent, so nothing is decided or audited.
      out.set_decision(v1::DECISION_DENY);
      out.mutable_denial()->set_code(v1::REASON_INVALID_REQUEST);
      out.mutable_denial()->set_message(absl::StrCat(
          "capability '", capability->config.name(),
          "' has no health_request configured, so it cannot be tested"));
      out.mutable_denial()->set_next_step(
          "Ask the operator to set health_request on the capability, or "
          "try a harmless GET the capability allows with execute.");
      return out;
    }
    execute.set_reason(
        std::string(kHealthReason.substr(0, ReasonLimit(capability->config))));
    execute.mutable_request()->set_method(
        health.method().empty() ? "GET" : health.method());
    execute.mutable_request()->set_path(health.path());
    for (absl::string_view pair :
         absl::StrSplit(health.query(), '&', absl::SkipEmpty())) {
      std::pair<std::string, std::string> name_value =
          absl::StrSplit(pair, absl::MaxSplits('=', 1));
      v1::QueryParam* param = execute.mutable_request()->add_query();
      param->set_name(name_value.first);
      param->set_value(name_value.second);
    }
  }
  // Unknown or forbidden capabilities go through Execute too, so the
  // refusal is the same one (and audited the same way) as for execute.
  v1::ExecuteResponse response = Execute(caller, execute);
  out.set_decision(response.decision());
  out.set_request_id(response.request_id());
  out.set_method(execute.request().method());
  out.set_path(execute.request().path());
  if (response.has_approval()) *out.mutable_approval() = response.approval();
  if (response.decision() != v1::DECISION_ALLOW) {
    *out.mutable_denial() = response.denial();
    return out;
  }
  // The body never leaves: only its status and timing are reported.
  int32_t status = response.response().status();
  out.set_status(status);
  out.set_status_class(StatusClass(status));
  out.set_reachable(status > 0);
  out.set_auth_ok(status > 0 && status != 401 && status != 403);
  out.set_latency_us(response.response().upstream_latency_us());
  return out;
}

v1::ListApprovalsResponse RequestExecutor::ListApprovals(
    const v1::ListApprovalsRequest& request) {
  AuditTimedOut();
  v1::ListApprovalsResponse response;
  if (approvals_ == nullptr) return response;
  for (v1::Approval& approval :
       approvals_->List(request.agent(), request.pending_only())) {
    *response.add_approvals() = std::move(approval);
  }
  return response;
}

absl::StatusOr<v1::Approval> RequestExecutor::DecideApproval(
    const v1::DecideApprovalRequest& request, uint32_t operator_uid) {
  AuditTimedOut();
  if (approvals_ == nullptr) {
    return absl::FailedPreconditionError("this broker keeps no approvals");
  }
  if (!audit_->Reachable()) {
    // The decision must be recorded; refuse before changing anything.
    return absl::UnavailableError(
        "the audit log is unreachable, so no approval can be decided; "
        "start latchkey-audit and retry");
  }
  absl::StatusOr<v1::Approval> decided =
      approvals_->Decide(request.id(), request.approve(), operator_uid);
  if (!decided.ok()) return decided.status();
  v1::AuditEvent event;
  event.set_source("operator");
  event.set_request_id(HexEncode(RandomBytes(8).value_or("")));
  event.set_agent(decided->agent());
  event.set_session_id(decided->session_id());
  event.set_capability(decided->capability());
  event.set_method(decided->method());
  event.set_path(decided->path());
  event.set_decision(request.approve() ? v1::DECISION_ALLOW
                                       : v1::DECISION_DENY);
  event.set_reason_code(request.approve() ? v1::REASON_ALLOWED
                                          : v1::REASON_APPROVAL_DENIED);
  event.set_reason(absl::StrCat("operator uid ", operator_uid,
                                request.approve() ? " approved" : " denied",
                                " approval ", decided->id()));
  event.set_peer_uid(operator_uid);
  event.set_operator_uid(operator_uid);
  event.set_approval_id(decided->id());
  event.set_agent_reason(decided->reason());
  if (absl::Status s = audit_->Record(event); !s.ok()) {
    LogError("audit_failed",
             {{"approval", decided->id()}, {"error", s.ToString()}});
    return absl::UnavailableError(absl::StrCat(
        "approval ", decided->id(), " was ",
        request.approve() ? "approved" : "denied",
        " but the decision could not be written to the audit log: ",
        s.message()));
  }
  LogInfo("approval_decided", {{"approval", decided->id()},
                               {"approved", request.approve() ? "yes" : "no"},
                               {"by_uid", absl::StrCat(operator_uid)}});
  return decided;
}

}  // namespace latchkey::broker
