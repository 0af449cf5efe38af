// EgressService::ExecuteStream: Execute for large bodies (the gateway's git
// clones and uploads). The checks, signing and hops are Execute's own
// (RunExchange); what differs is that the request body may be read from
// the stream while curl uploads it (StreamBodyReader) and the answer is
// passed on as it arrives (StreamAnswer).
//
// Secret-bearing memory beyond Execute's (see egress_service.cc): the
// StreamScrubber's held-back tail, which may hold the start of a
// credential, is zeroized when the answer ends.
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/egress_limits.h"
#include "common/grpc_status.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "vault/egress_exchange.h"
#include "vault/egress_service.h"
#include "vault/stream_answer.h"
#include "vault/stream_body_reader.h"

namespace latchkey::vault {
namespace {

constexpr char kExecuteStreamMethod[] =
    "/latchkey.v1.VaultEgress/ExecuteStream";

// StreamedLimit: a capability's effective byte limit (egress_limits.h) on
// the streaming path, where nothing above kMaxStreamedBodyBytes is
// accepted.
absl::StatusOr<uint64_t> StreamedLimit(uint64_t configured,
                                       absl::string_view field) {
  if (configured > kMaxStreamedBodyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("limits.", field, " is ", configured,
                     " bytes; the streaming path allows at most ",
                     kMaxStreamedBodyBytes, " (4 GiB)"));
  }
  return configured;
}

}  // namespace

absl::Status EgressService::ExecuteStreamChecked(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::VaultStreamReply, v1::VaultStreamRequest>*
        stream,
    v1::VaultExecuteRequest request, std::optional<uint64_t> content_length,
    StreamSummary* summary) {
  if (!request.body().empty()) {
    return absl::InvalidArgumentError(
        "the head's body must be empty; send the body in body_chunk messages");
  }
  LK_RETURN_IF_ERROR(ValidateEgressRequest(request, /*streamed=*/true));
  LK_ASSIGN_OR_RETURN(
      const uint64_t max_request,
      StreamedLimit(MaxRequestBytes(request.limits()), "max_request_bytes"));
  LK_ASSIGN_OR_RETURN(
      const uint64_t cap,
      StreamedLimit(MaxResponseBytes(request.limits()), "max_response_bytes"));
  if (content_length.has_value() && *content_length > max_request) {
    return absl::InvalidArgumentError(
        absl::StrCat("content_length ", *content_length,
                     " exceeds the capability's max_request_bytes (",
                     max_request, " bytes)"));
  }
  StreamBodyReader body(context, stream, max_request, content_length);
  LK_RETURN_IF_ERROR(body.ReadPrefix());
  const bool streamed = !body.fits();
  UploadSource upload;
  uint64_t buffered_bytes = 0;
  if (streamed) {
    upload.length = content_length;
    upload.read = [&body](char* buffer, size_t max) {
      return body.Read(buffer, max);
    };
  } else {
    request.set_body(body.TakeBody());
    buffered_bytes = request.body().size();
  }

  bool head_sent = false;
  absl::Status status = core_->UseSecret(
      request.secret_id(),
      [&](const v1::SecretMetadata& metadata,
          const SecureBuffer& secret) -> absl::Status {
        const uint64_t generation = core_->seal_generation();
        ResponseScrubber scrubber;
        v1::VaultExecuteResponse& reply = summary->reply;
        StreamAnswer answer(stream, core_, generation, cap, request.limits(),
                            &scrubber, &reply);
        answer.set_head_request(request.method() == "HEAD");
        UpstreamResult result;
        Exchange exchange;
        exchange.request = &request;
        exchange.upload = streamed ? &upload : nullptr;
        exchange.sink = &answer;
        exchange.scrubber = &scrubber;
        exchange.reply = &reply;
        exchange.final_hop = &result;
        // Stop at once, even while the upstream is silent, when the broker
        // has gone or the vault was sealed.
        exchange.proceed = [context, this, generation]() -> absl::Status {
          if (context->IsCancelled()) {
            return absl::CancelledError("the broker cancelled the call");
          }
          if (core_->seal_generation() != generation) {
            return absl::FailedPreconditionError(kSealedDuringTransfer);
          }
          return absl::OkStatus();
        };
        absl::Status ran =
            RunExchange(exchange, metadata, secret,
                        MakeAuthContext(metadata, request.limits()), client_);
        const uint64_t request_bytes =
            streamed ? body.delivered() : buffered_bytes;
        auto finish = [&](const std::string& error) {
          answer.Finish(result, error, request_bytes);
          head_sent = answer.head_sent();
          summary->end = answer.end();
          summary->broker_gone = answer.broker_gone();
          summary->status = result.status;
        };
        if (answer.head_sent()) {
          // The answer has begun: whatever went wrong goes in its end.
          std::string error;
          if (!ran.ok()) {
            error = std::string(ran.message());
          } else if (!reply.upstream_error().empty()) {
            error = reply.upstream_error();
          } else if (!reply.refusal_message().empty()) {
            error = reply.refusal_message();
          }
          finish(error);
          return absl::OkStatus();
        }
        LK_RETURN_IF_ERROR(ran);
        if (!Answered(reply)) {
          // A refusal or an upstream failure: the head says so, and the
          // stream ends there.
          v1::VaultStreamReply message;
          *message.mutable_head() = reply;
          head_sent = true;
          summary->end.set_request_bytes(request_bytes);  // for the log.
          summary->broker_gone = !stream->Write(message);
          return absl::OkStatus();
        }
        finish("");  // An answer without a body (HEAD, 204, 304).
        return absl::OkStatus();
      });
  // Sealed (or failed) after the answer began: its end already says so.
  if (head_sent) status = absl::OkStatus();
  if (status.ok() && summary->broker_gone) {
    return absl::CancelledError("the broker went away during the transfer");
  }
  return status;
}

grpc::Status EgressService::ExecuteStream(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::VaultStreamReply, v1::VaultStreamRequest>*
        stream) {
  absl::StatusOr<PeerCredentials> peer =
      guard_->Authorize(*context, kExecuteStreamMethod);
  if (!peer.ok()) return ToGrpcStatus(peer.status());
  v1::VaultStreamRequest first;
  if (!stream->Read(&first) ||
      first.part_case() != v1::VaultStreamRequest::kHead) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        "the first ExecuteStream message must be the head"));
  }
  std::optional<uint64_t> content_length;
  if (first.has_content_length()) content_length = first.content_length();
  const std::string request_id = first.head().request_id();
  const std::string secret_id = first.head().secret_id();
  const std::string method = first.head().method();
  StreamSummary summary;
  absl::Status status =
      ExecuteStreamChecked(context, stream, std::move(*first.mutable_head()),
                           content_length, &summary);
  if (!status.ok()) {
    LogWarning("egress_refused", {{"request_id", request_id},
                                  {"secret_id", secret_id},
                                  {"streamed", "yes"},
                                  {"error", status.ToString()}});
    return ToGrpcStatus(status);
  }
  const v1::VaultExecuteResponse& reply = summary.reply;
  const v1::StreamEnd& end = summary.end;
  LogInfo("egress_stream",
          {{"request_id", request_id},
           {"secret_id", secret_id},
           {"method", method},
           {"status", absl::StrCat(summary.status)},
           {"upstream_error", reply.upstream_error()},
           {"refusal", reply.refusal_message()},
           {"upstream_us", absl::StrCat(end.upstream_latency_us())},
           {"redactions", absl::StrCat(end.redactions())},
           {"request_bytes", absl::StrCat(end.request_bytes())},
           {"body_bytes", absl::StrCat(end.body_bytes())},
           {"truncated", end.body_truncated() ? "yes" : "no"},
           {"error", end.error()}});
  return grpc::Status::OK;
}

}  // namespace latchkey::vault
