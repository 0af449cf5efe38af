// RequestExecutor::ExecuteStream: the streaming twin of Execute, for the
// keyless gateway's large bodies (git clone, uploads). The decision is
// made by the same Admit/ApplyVaultAnswer/Conclude as Execute; this file
// only moves chunks between the agent's stream and the vault's, in order:
//
//   agent → head                       (Admit: every check)
//   agent ← decision (DENY: done)
//   agent → body chunks, half-close   → vault (counted against the limit)
//   vault → head                       (ApplyVaultAnswer, Conclude: audit)
//   agent ← head (DENY: done)
//   agent ← body chunks ← vault, then agent ← end ← vault
//
// Memory stays bounded by a chunk or two whatever the body size: each
// Write blocks until the other side has taken the previous chunk
// (gRPC flow control), so a slow reader slows the upstream.
#include <utility>

#include "absl/strings/str_cat.h"
#include "broker/request_executor.h"
#include "common/egress_limits.h"
#include "common/limits.h"
#include "common/log.h"

namespace latchkey::broker {
namespace {

// Room for the upload before the upstream call and for the vault's own
// bookkeeping, on top of the capability's total upstream timeout.
constexpr absl::Duration kStreamDeadlineMargin = absl::Seconds(60);

absl::Duration StreamTimeout(const v1::EgressLimits &limits) {
  return absl::Milliseconds(TotalTimeoutMs(limits)) + kStreamDeadlineMargin;
}

v1::ExecuteStreamReply DecisionReply(const v1::ExecuteResponse &response) {
  v1::ExecuteStreamReply reply;
  *reply.mutable_decision() = response;
  return reply;
}

v1::ExecuteStreamReply HeadReply(v1::ExecuteResponse response) {
  v1::ExecuteStreamReply reply;
  *reply.mutable_head() = std::move(response);
  return reply;
}

Decision BadStream(std::string message) {
  Decision decision;
  decision.code = v1::REASON_INVALID_REQUEST;
  decision.message = std::move(message);
  return decision;
}

}  // namespace

void RequestExecutor::RecordStreamEnd(const PendingRequest &pending,
                                      const v1::StreamEnd &end,
                                      absl::string_view failure) {
  // Not a second decision (the decision has its own record, written
  // before the answer was passed on): source "stream-end" sets it apart.
  v1::AuditEvent event = pending.event;
  event.set_source("stream-end");
  event.set_bytes_in(static_cast<int64_t>(end.body_bytes()));
  event.set_bytes_out(static_cast<int64_t>(end.request_bytes()));
  std::string what = absl::StrCat("stream ended: ", end.body_bytes(),
                                  " response bytes passed on, ",
                                  end.request_bytes(), " request bytes sent");
  if (end.body_truncated()) {
    absl::StrAppend(&what,
                    "; the response was cut at the capability's "
                    "max_response_bytes");
  }
  if (!end.error().empty()) absl::StrAppend(&what, "; failed: ", end.error());
  if (!failure.empty()) absl::StrAppend(&what, "; failed: ", failure);
  event.set_reason(what);
  event.set_latency_us(absl::ToInt64Microseconds(clock_() - pending.start));
  // The answer has already been passed on: a failure to record how it
  // ended can only be logged (the decision itself was recorded first).
  if (absl::Status s = audit_->Record(event); !s.ok()) {
    LogError("audit_failed", {{"request_id", pending.response.request_id()},
                              {"error", s.ToString()}});
  }
}

grpc::Status RequestExecutor::ExecuteStream(
    const Caller &caller, AgentStream *agent,
    const std::function<bool()> &cancelled) {
  v1::ExecuteStreamRequest first;
  if (!agent->Read(&first)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the stream ended before its head");
  }
  if (!first.has_head()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first message of ExecuteStream must be the head");
  }
  std::optional<uint64_t> content_length;
  if (first.has_content_length()) content_length = first.content_length();

  PendingRequest pending =
      Admit(caller, first.head(), /*streamed=*/true, content_length);
  if (!pending.decision.allowed ||
      !RecordIntent(&pending, /*body=*/std::nullopt)) {
    agent->Write(DecisionReply(Conclude(&pending)));
    return grpc::Status::OK;
  }
  {
    v1::ExecuteResponse allowed = pending.response;
    allowed.set_decision(v1::DECISION_ALLOW);
    if (!agent->Write(DecisionReply(allowed))) {
      pending.decision = BadStream("the client went away before its body");
      Conclude(&pending);
      return grpc::Status::OK;
    }
  }

  const v1::EgressLimits &limits = pending.capability->config.limits();
  const uint64_t body_limit =
      RequestBodyLimit(pending.capability->config, /*streamed=*/true);
  absl::StatusOr<std::unique_ptr<VaultStream>> opened =
      vault_->OpenStream(StreamTimeout(limits));
  if (!opened.ok()) {
    ApplyVaultAnswer(opened.status(), &pending);
    agent->Write(HeadReply(Conclude(&pending)));
    return grpc::Status::OK;
  }
  VaultStream &vault = **opened;
  // Ends the vault call early (its upstream transfer stops).
  auto abandon_vault = [&] {
    vault.Cancel();
    (void)vault.Finish();
  };
  // Ends the vault call early and concludes the request as refused.
  auto refuse = [&](Decision decision) {
    abandon_vault();
    pending.decision = std::move(decision);
    pending.response.clear_response();
    agent->Write(HeadReply(Conclude(&pending)));
    return grpc::Status::OK;
  };

  {
    v1::VaultStreamRequest head;
    *head.mutable_head() = pending.vault_request;
    if (content_length.has_value()) head.set_content_length(*content_length);
    bool vault_open = vault.Write(head);
    // Pass the body on. If the vault stops reading (it refused the request
    // or the upstream failed), keep reading to learn whether the agent's
    // body was complete, but send nothing more.
    uint64_t sent = 0;
    v1::ExecuteStreamRequest chunk;
    while (agent->Read(&chunk)) {
      if (!chunk.has_body_chunk()) {
        return refuse(BadStream(
            "after the head, ExecuteStream takes only body_chunk messages"));
      }
      sent += chunk.body_chunk().size();
      if (sent > body_limit) {
        return refuse(BadStream(
            absl::StrCat("request body exceeds ", body_limit,
                         " bytes, the most this capability accepts")));
      }
      if (content_length.has_value() && sent > *content_length) {
        return refuse(BadStream(
            absl::StrCat("request body is longer than its content_length of ",
                         *content_length, " bytes")));
      }
      if (vault_open) {
        v1::VaultStreamRequest part;
        part.set_body_chunk(std::move(*chunk.mutable_body_chunk()));
        vault_open = vault.Write(part);
      }
    }
    if (cancelled()) {
      return refuse(
          BadStream("the client cancelled the request before its "
                    "body was complete"));
    }
    if (content_length.has_value() && sent != *content_length) {
      return refuse(BadStream(absl::StrCat("request body ended after ", sent,
                                           " of its content_length of ",
                                           *content_length, " bytes")));
    }
    if (vault_open) vault.WritesDone();
    pending.event.set_bytes_out(static_cast<int64_t>(sent));
  }

  // The vault's head: status and headers, or why there are none.
  v1::VaultStreamReply reply;
  if (!vault.Read(&reply)) {
    absl::Status finished = vault.Finish();
    ApplyVaultAnswer(finished.ok() ? absl::InternalError(
                                         "the vault ended the stream without "
                                         "an answer")
                                   : finished,
                     &pending);
    agent->Write(HeadReply(Conclude(&pending)));
    return grpc::Status::OK;
  }
  if (!reply.has_head()) {
    return refuse(BadStream("the vault's stream did not start with a head"));
  }
  ApplyVaultAnswer(std::move(*reply.mutable_head()), &pending);
  v1::ExecuteResponse answer = Conclude(&pending);
  if (answer.decision() != v1::DECISION_ALLOW) {
    abandon_vault();
    agent->Write(HeadReply(std::move(answer)));
    return grpc::Status::OK;
  }
  if (!agent->Write(HeadReply(std::move(answer)))) {
    abandon_vault();
    RecordStreamEnd(pending, {}, "the client went away before the answer");
    return grpc::Status::OK;
  }

  // The body, chunk by chunk, then the end.
  v1::StreamEnd end;
  bool ended = false;
  std::string failure;
  while (vault.Read(&reply)) {
    if (reply.has_end()) {
      end = reply.end();
      ended = true;
      break;
    }
    if (!reply.has_body_chunk()) continue;
    v1::ExecuteStreamReply part;
    part.set_body_chunk(std::move(*reply.mutable_body_chunk()));
    if (!agent->Write(part)) {
      failure = "the client went away during the answer";
      vault.Cancel();
      break;
    }
  }
  absl::Status finished = vault.Finish();
  if (!ended && failure.empty()) {
    // The vault stopped without its end: the body is incomplete, and the
    // agent must hear so rather than see a short body as a whole one.
    end.set_error(
        absl::StrCat("the vault ended the answer early: ",
                     finished.ok() ? "no end message" : finished.message()));
  }
  if (failure.empty()) {
    v1::ExecuteStreamReply last;
    *last.mutable_end() = end;
    agent->Write(last);
  }
  RecordStreamEnd(pending, end, failure);
  return grpc::Status::OK;
}

}  // namespace latchkey::broker
