#include "broker/request_executor.h"

#include <algorithm>
#include <optional>
#include <shared_mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "broker/broker_metrics.h"
#include "common/crypto.h"
#include "common/egress_limits.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/reason_text.h"
#include "common/recordable_event.h"
#include "rules/identifiers.h"
#include "rules/request_digest.h"

namespace latchkey::broker {
namespace {

Decision Deny(v1::ReasonCode code, std::string message, std::string rule = "") {
  return {false, code, std::move(message), std::move(rule)};
}

// DenialFromVault maps a vault refusal to a reason the agent can act on.
Decision DenialFromVault(const absl::Status &status) {
  switch (status.code()) {
    case absl::StatusCode::kFailedPrecondition:
      return Deny(v1::REASON_VAULT_SEALED,
                  "the vault is sealed, so no credential can be used");
    case absl::StatusCode::kNotFound:
      return Deny(v1::REASON_SECRET_UNAVAILABLE,
                  "the capability's credential is not in the vault");
    case absl::StatusCode::kDataLoss:
      return Deny(v1::REASON_SECRET_UNAVAILABLE,
                  "the capability's credential failed an integrity check");
    case absl::StatusCode::kPermissionDenied:
      return Deny(v1::REASON_ORIGIN_REFUSED,
                  "the credential is not bound to this capability's origin");
    case absl::StatusCode::kInvalidArgument:
      return Deny(
          v1::REASON_INVALID_REQUEST,
          absl::StrCat("the vault refused the request: ", status.message()));
    default:
      return Deny(v1::REASON_VAULT_UNAVAILABLE,
                  "the vault could not be reached");
  }
}

// Recordable is an identifier as records and messages show it: as sent
// when it has the identifier shape, escaped otherwise.
std::string Recordable(const std::string &value) {
  if (CheckIdentifier("", value, /*may_be_empty=*/true).ok()) return value;
  return PrintableIdentifier(value);
}

// AgentView is an approval as an agent may see it: its session id cut to
// a prefix, like everywhere else the agent is shown one.
v1::Approval AgentView(v1::Approval approval) {
  approval.set_session_id(approval.session_id().substr(0, 8));
  return approval;
}

google::protobuf::Duration ToDuration(absl::Duration d) {
  google::protobuf::Duration out;
  int64_t ms = absl::ToInt64Milliseconds(d);
  out.set_seconds(ms / 1000);
  out.set_nanos(static_cast<int32_t>((ms % 1000) * 1'000'000));
  return out;
}

}  // namespace

size_t ReasonLimit(const v1::Capability &capability) {
  if (capability.max_reason_bytes() == 0 ||
      capability.max_reason_bytes() > kMaxReasonBytes) {
    return kMaxReasonBytes;
  }
  return capability.max_reason_bytes();
}

uint64_t RequestBodyLimit(const v1::Capability &capability, bool streamed) {
  return std::min(MaxRequestBytes(capability.limits()),
                  streamed ? kMaxStreamedBodyBytes : kMaxRequestBodyBytes);
}

void RequestExecutor::AuditTimedOut() {
  if (approvals_ == nullptr) return;
  for (const v1::Approval &approval : approvals_->ExpireDue()) {
    v1::AuditEvent event;
    event.set_source("broker");
    event.set_request_id(HexEncode(RandomBytes(8).value_or("")));
    event.set_agent(approval.agent());
    event.set_session_id(approval.session_id());
    event.set_capability(approval.capability());
    event.set_method(approval.method());
    event.set_path(approval.path());
    event.set_decision(v1::DECISION_DENY);
    event.set_reason_code(v1::REASON_APPROVAL_TIMED_OUT);
    event.set_reason(absl::StrCat("approval ", approval.id(),
                                  " timed out before an operator decided"));
    event.set_agent_reason(approval.reason());
    event.set_approval_id(approval.id());
    if (absl::Status s = audit_->Record(event); !s.ok()) {
      LogError("audit_failed",
               {{"approval", approval.id()}, {"error", s.ToString()}});
    }
  }
}

v1::ExecuteResponse RequestExecutor::Execute(
    const Caller &caller, const v1::ExecuteRequest &request) {
  PendingRequest pending = Admit(caller, request, /*streamed=*/false,
                                 request.request().body().size());
  if (pending.decision.allowed &&
      RecordIntent(&pending, request.request().body())) {
    // The body, up to 8 MiB, is copied outside the revocation gate so that
    // a revoke never waits for it.
    pending.vault_request.set_body(request.request().body());
    pending.event.set_bytes_out(
        static_cast<int64_t>(request.request().body().size()));
    ApplyVaultAnswer(vault_->Execute(pending.vault_request), &pending);
  }
  return Conclude(&pending);
}

bool RequestExecutor::RecordIntent(PendingRequest *pending,
                                   std::optional<absl::string_view> body) {
  const v1::VaultExecuteRequest &sent = pending->vault_request;
  RequestDigest digest = DigestRequest(sent.method(), sent.path(), sent.query(),
                                       sent.headers(), body);
  v1::AuditEvent intent = pending->event;
  intent.set_source("intent");
  intent.set_decision(v1::DECISION_ALLOW);
  intent.set_reason_code(v1::REASON_ALLOWED);
  intent.set_reason(absl::StrCat(
      "about to send ", sent.method(), " ", sent.path(), " (query sha256 ",
      digest.query_sha256, ", headers sha256 ", digest.headers_sha256,
      body.has_value() ? absl::StrCat(", body sha256 ", digest.body_sha256,
                                      ", ", body->size(), " bytes")
                       : std::string(", body streamed"),
      "); the outcome follows in a record with the same request_id"));
  intent.set_rule(pending->decision.rule);
  intent.set_latency_us(absl::ToInt64Microseconds(clock_() - pending->start));
  absl::Status recorded = audit_->Record(intent);
  if (recorded.ok()) return true;
  LogError("audit_failed", {{"request_id", pending->response.request_id()},
                            {"error", recorded.ToString()}});
  pending->decision =
      Deny(v1::REASON_AUDIT_UNAVAILABLE,
           "the intent record could not be written to the audit log, so "
           "nothing was sent upstream");
  return false;
}

PendingRequest RequestExecutor::Admit(const Caller &caller,
                                      const v1::ExecuteRequest &request,
                                      bool streamed,
                                      std::optional<uint64_t> body_bytes) {
  PendingRequest pending;
  pending.start = clock_();
  AuditTimedOut();
  pending.state = state_->Get();
  v1::ExecuteResponse &response = pending.response;
  response.set_request_id(HexEncode(RandomBytes(8).value_or("")));

  v1::AuditEvent &event = pending.event;
  event.set_source("broker");
  event.set_request_id(response.request_id());
  event.set_peer_uid(caller.peer_uid);
  // Malformed identifiers are refused by the pipeline; the record shows
  // them escaped, never cut.
  event.set_session_id(Recordable(request.session_id()));
  event.set_capability(Recordable(request.capability()));
  event.set_method(Recordable(request.request().method()));
  event.set_approval_id(Recordable(request.approval_id()));
  // The reason is the agent's free text: shown as valid UTF-8 wherever it
  // goes (records, approvals an operator lists).
  event.set_agent_reason(RecordableText(request.reason(), kMaxReasonBytes));
  if (caller.agent != nullptr) event.set_agent(caller.agent->config.name());

  DecisionInput input;
  input.agent = caller.agent;
  input.capability = request.capability();
  input.session_id = request.session_id();
  input.approval_id = request.approval_id();
  input.reason = request.reason();
  input.method = request.request().method();
  input.path = request.request().path();
  input.headers = &request.request().headers();
  input.query = &request.request().query();
  if (!streamed) input.body = request.request().body();
  input.streamed = streamed;
  input.body_in_stream_head = streamed && !request.request().body().empty();
  input.body_bytes = body_bytes;
  input.request_id = response.request_id();

  DecisionFacts facts;
  facts.state = pending.state.get();
  // The revocation gate is taken (shared) at the first step that needs it
  // and held until the vault request is complete: revocations from the
  // hand-off on apply to later checks.
  std::shared_lock<RwLock> gate(sessions_->gate(), std::defer_lock);
  Decision &decision = pending.decision;
  decision = RunPipeline(DecisionMode::kEnforce, input, &facts,
                         /*trace=*/nullptr, &gate);
  pending.capability = facts.capability;
  event.set_path(facts.policy.normalized_path);
  if (facts.approval.approval.has_value()) {
    event.set_approval_id(facts.approval.approval->id());
    *response.mutable_approval() = AgentView(*facts.approval.approval);
  }
  if (decision.allowed && facts.approval.consume) {
    approvals_->Consume(facts.approval.approval->id());
    response.mutable_approval()->set_state(v1::Approval::USED);
  }
  if (decision.allowed) {
    const CompiledCapability &capability = *facts.capability;
    v1::VaultExecuteRequest &vault_request = pending.vault_request;
    vault_request.set_request_id(response.request_id());
    vault_request.set_secret_id(capability.config.secret_id());
    vault_request.set_origin(capability.origin.ToString());
    vault_request.set_method(request.request().method());
    vault_request.set_path(facts.policy.normalized_path);
    *vault_request.mutable_query() = request.request().query();
    *vault_request.mutable_headers() = request.request().headers();
    *vault_request.mutable_limits() = capability.config.limits();
    *vault_request.mutable_rules() = capability.request_rules;
  }
  return pending;
}

void RequestExecutor::ApplyVaultAnswer(
    absl::StatusOr<v1::VaultExecuteResponse> vault_response,
    PendingRequest *pending) {
  Decision &decision = pending->decision;
  v1::ExecuteResponse &response = pending->response;
  v1::AuditEvent &event = pending->event;
  if (!vault_response.ok()) {
    decision = DenialFromVault(vault_response.status());
    LogWarning("vault_refused",
               {{"request_id", response.request_id()},
                {"error", vault_response.status().ToString()}});
  } else if (vault_response->refusal_code() != v1::REASON_UNSPECIFIED) {
    // The vault refused to connect (address or redirect check): its
    // message names what was refused and why.
    decision =
        Deny(vault_response->refusal_code(), vault_response->refusal_message());
  } else if (!vault_response->upstream_error().empty()) {
    decision = vault_response->upstream_timed_out()
                   ? Deny(v1::REASON_UPSTREAM_TIMEOUT,
                          absl::StrCat("the upstream timed out: ",
                                       vault_response->upstream_error()))
                   : Deny(v1::REASON_UPSTREAM_ERROR,
                          absl::StrCat("the upstream failed: ",
                                       vault_response->upstream_error()));
  } else {
    // Every redirect hop was checked against the capability's rules by
    // the vault before it was sent (vault/redirect_rules.h).
    if (!vault_response->redirects().empty()) {
      // The audit record says where the request really ended up.
      absl::StrAppend(&decision.message, "; followed same-origin redirects to ",
                      absl::StrJoin(vault_response->redirects(), ", "));
    }
    *response.mutable_response() =
        std::move(*vault_response->mutable_response());
    event.set_upstream_status(response.response().status());
    event.set_bytes_in(static_cast<int64_t>(response.response().body().size()));
  }
}

v1::ExecuteResponse RequestExecutor::Conclude(PendingRequest *pending) {
  Decision &decision = pending->decision;
  v1::ExecuteResponse &response = pending->response;
  v1::AuditEvent &event = pending->event;
  event.set_decision(decision.allowed ? v1::DECISION_ALLOW : v1::DECISION_DENY);
  event.set_reason_code(decision.code);
  event.set_reason(decision.message);
  event.set_rule(decision.rule);
  event.set_latency_us(absl::ToInt64Microseconds(clock_() - pending->start));
  absl::Status recorded = audit_->Record(event);
  if (!recorded.ok()) {
    LogError("audit_failed", {{"request_id", response.request_id()},
                              {"error", recorded.ToString()}});
    response.clear_response();
    decision = Deny(v1::REASON_AUDIT_UNAVAILABLE,
                    "the decision could not be written to the audit log, so "
                    "the request is refused");
  }

  if (decision.allowed) {
    response.set_decision(v1::DECISION_ALLOW);
    response.set_rule(decision.rule);
  } else {
    response.clear_response();
    response.set_decision(v1::DECISION_DENY);
    v1::Denial *denial = response.mutable_denial();
    denial->set_code(decision.code);
    denial->set_message(decision.message);
    denial->set_next_step(NextStep(decision.code));
    denial->set_rule(decision.rule);
    if (decision.retry_after > absl::ZeroDuration()) {
      *denial->mutable_retry_after() = ToDuration(decision.retry_after);
    }
  }
  RecordDecision(decision.allowed, decision.code, event.latency_us());
  LogInfo("decision", {{"request_id", response.request_id()},
                       {"agent", event.agent()},
                       {"capability", event.capability()},
                       {"method", event.method()},
                       {"path", event.path()},
                       {"decision", decision.allowed ? "allow" : "deny"},
                       {"reason", ReasonName(decision.code)},
                       {"status", absl::StrCat(event.upstream_status())},
                       {"latency_us", absl::StrCat(event.latency_us())}});
  return std::move(response);
}

}  // namespace latchkey::broker
