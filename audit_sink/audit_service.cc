#include "audit_sink/audit_service.h"

#include "absl/strings/str_cat.h"
#include "audit_sink/audit_metrics.h"
#include "audit_sink/expected_head.h"
#include "common/grpc_status.h"
#include "common/limits.h"
#include "common/metrics.h"

namespace latchkey::audit_sink {
namespace {

constexpr char kAppend[] = "/latchkey.v1.AuditAppend/Append";
constexpr char kAppendBatch[] = "/latchkey.v1.AuditAppend/AppendBatch";
constexpr char kQuery[] = "/latchkey.v1.AuditAdmin/Query";
constexpr char kTail[] = "/latchkey.v1.AuditAdmin/Tail";
constexpr char kVerify[] = "/latchkey.v1.AuditAdmin/Verify";
constexpr char kGetMetrics[] = "/latchkey.v1.AuditAdmin/GetMetrics";
constexpr char kGetCheckpoint[] = "/latchkey.v1.AuditAdmin/GetCheckpoint";

// A Tail stream sends at most this many records per read and checks for
// cancellation and shutdown at least this often while idle.
constexpr size_t kTailBatch = 256;
constexpr absl::Duration kTailPoll = absl::Milliseconds(100);

bool IsValidTimestamp(const google::protobuf::Timestamp& timestamp) {
  // The range google.protobuf.Timestamp documents: years 1 to 9999.
  return timestamp.seconds() >= -62135596800 &&
         timestamp.seconds() <= 253402300799 && timestamp.nanos() >= 0 &&
         timestamp.nanos() <= 999999999;
}

bool IsBefore(const google::protobuf::Timestamp& a,
              const google::protobuf::Timestamp& b) {
  return a.seconds() < b.seconds() ||
         (a.seconds() == b.seconds() && a.nanos() < b.nanos());
}

absl::Status ValidateQuery(const v1::QueryRequest& request) {
  if (request.limit() > kMaxAuditQueryLimit) {
    return absl::InvalidArgumentError(absl::StrCat("limit ", request.limit(),
                                                   " is above the maximum of ",
                                                   kMaxAuditQueryLimit));
  }
  if ((request.has_start_time() && !IsValidTimestamp(request.start_time())) ||
      (request.has_end_time() && !IsValidTimestamp(request.end_time()))) {
    return absl::InvalidArgumentError("start_time or end_time is invalid");
  }
  if (request.has_start_time() && request.has_end_time() &&
      IsBefore(request.end_time(), request.start_time())) {
    return absl::InvalidArgumentError("end_time is before start_time");
  }
  if (!v1::Decision_IsValid(request.decision())) {
    return absl::InvalidArgumentError("unknown decision");
  }
  if (request.agent().size() > kMaxAuditFieldBytes ||
      request.capability().size() > kMaxAuditFieldBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "agent and capability are at most ", kMaxAuditFieldBytes, " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace

void PermitAuditMethods(PeerGuard* guard) {
  guard->Permit(kAppend, kWriterRole);
  guard->Permit(kAppendBatch, kWriterRole);
  guard->Permit(kQuery, kOperatorRole);
  guard->Permit(kTail, kOperatorRole);
  guard->Permit(kVerify, kOperatorRole);
  guard->Permit("/latchkey.v1.AuditAdmin/Backup", kOperatorRole);
  guard->Permit(kGetMetrics, kOperatorRole);
  guard->Permit(kGetCheckpoint, kOperatorRole);
}

grpc::Status AuditAppendService::Append(grpc::ServerContext* context,
                                        const v1::AppendRequest* request,
                                        v1::AppendResponse* response) {
  absl::StatusOr<PeerCredentials> peer = guard_->Authorize(*context, kAppend);
  if (!peer.ok()) return ToGrpcStatus(peer.status());
  if (!request->has_event()) {
    return ToGrpcStatus(
        absl::InvalidArgumentError("AppendRequest.event is "
                                   "required"));
  }
  // AuditLog::Append validates the event itself: it owns the format.
  absl::StatusOr<uint64_t> sequence = log_->Append(request->event());
  RecordAuditAppend(sequence.status());
  if (!sequence.ok()) return ToGrpcStatus(sequence.status());
  response->set_sequence(*sequence);
  return grpc::Status::OK;
}

grpc::Status AuditAppendService::AppendBatch(
    grpc::ServerContext* context, const v1::AppendBatchRequest* request,
    v1::AppendBatchResponse* response) {
  absl::StatusOr<PeerCredentials> peer =
      guard_->Authorize(*context, kAppendBatch);
  if (!peer.ok()) return ToGrpcStatus(peer.status());
  if (request->events().empty() ||
      static_cast<size_t>(request->events_size()) > kMaxAuditBatchEvents) {
    return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
        "AppendBatchRequest.events must hold 1 to ", kMaxAuditBatchEvents,
        " events, not ", request->events_size())));
  }
  std::vector<const v1::AuditEvent*> events;
  events.reserve(request->events_size());
  for (const v1::AuditEvent& event : request->events())
    events.push_back(&event);
  absl::StatusOr<uint64_t> first = log_->AppendBatch(events);
  // Counted per event, like Append: a batch is all or none.
  RecordAuditAppend(first.status(), events.size());
  if (!first.ok()) return ToGrpcStatus(first.status());
  response->set_first_sequence(*first);
  return grpc::Status::OK;
}

grpc::Status AuditAdminService::Query(grpc::ServerContext* context,
                                      const v1::QueryRequest* request,
                                      v1::QueryResponse* response) {
  absl::StatusOr<PeerCredentials> peer = guard_->Authorize(*context, kQuery);
  if (!peer.ok()) return ToGrpcStatus(peer.status());
  absl::Status valid = ValidateQuery(*request);
  if (!valid.ok()) return ToGrpcStatus(valid);
  absl::StatusOr<v1::QueryResponse> result = log_->Query(*request);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = std::move(*result);
  return grpc::Status::OK;
}

grpc::Status AuditAdminService::Tail(
    grpc::ServerContext* context, const v1::TailRequest* request,
    grpc::ServerWriter<v1::AuditRecord>* writer) {
  absl::StatusOr<PeerCredentials> peer = guard_->Authorize(*context, kTail);
  if (!peer.ok()) return ToGrpcStatus(peer.status());
  AuditLog::TailCursor cursor = log_->TailFrom(request->from_sequence());
  while (!stopping_.load()) {
    if (context->IsCancelled()) return grpc::Status::CANCELLED;
    absl::StatusOr<std::vector<v1::AuditRecord>> records =
        log_->ReadNext(&cursor, kTailBatch);
    if (!records.ok()) return ToGrpcStatus(records.status());
    for (const v1::AuditRecord& record : *records) {
      if (!writer->Write(record)) return grpc::Status::CANCELLED;
    }
    if (records->size() < kTailBatch) {
      log_->WaitForSequence(cursor.seen_through + 1, kTailPoll);
    }
  }
  return grpc::Status::OK;
}

grpc::Status AuditAdminService::Verify(grpc::ServerContext* context,
                                       const v1::VerifyRequest* request,
                                       v1::VerifyResponse* response) {
  absl::StatusOr<PeerCredentials> peer = guard_->Authorize(*context, kVerify);
  if (!peer.ok()) return ToGrpcStatus(peer.status());
  if (request->last_sequence() != 0 &&
      request->first_sequence() > request->last_sequence()) {
    return ToGrpcStatus(
        absl::InvalidArgumentError("first_sequence is after last_sequence"));
  }
  if (static_cast<size_t>(request->expect_size()) > kMaxAuditExpectedHeads) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("at most ", kMaxAuditExpectedHeads, " expected heads")));
  }
  std::vector<ExpectedHead> expect;
  for (const v1::ExpectedHead& given : request->expect()) {
    // The same parser as the command lines: SEQ:HEAD.
    absl::StatusOr<ExpectedHead> head = ParseExpectedHead(
        FormatExpectedHead(given.sequence(), given.head_hash()));
    if (!head.ok()) return ToGrpcStatus(head.status());
    expect.push_back(std::move(*head));
  }
  absl::StatusOr<v1::VerifyResponse> result =
      log_->Verify(request->first_sequence(), request->last_sequence(), expect);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = std::move(*result);
  return grpc::Status::OK;
}

grpc::Status AuditAdminService::GetCheckpoint(
    grpc::ServerContext* context, const v1::GetCheckpointRequest*,
    v1::GetCheckpointResponse* response) {
  absl::StatusOr<PeerCredentials> peer =
      guard_->Authorize(*context, kGetCheckpoint);
  if (!peer.ok()) return ToGrpcStatus(peer.status());
  AuditLog::Head head = log_->head();
  response->set_sequence(head.sequence);
  response->set_head_hash(std::move(head.hash));
  response->set_checkpoint_line(std::move(head.checkpoint_line));
  response->set_checkpoint_sequence(head.checkpoint_sequence);
  return grpc::Status::OK;
}

grpc::Status AuditAdminService::GetMetrics(grpc::ServerContext* context,
                                           const v1::GetMetricsRequest*,
                                           v1::MetricsSnapshot* response) {
  absl::StatusOr<PeerCredentials> peer =
      guard_->Authorize(*context, kGetMetrics);
  if (!peer.ok()) return ToGrpcStatus(peer.status());
  *response = metrics::Registry::Global().Snapshot("audit");
  return grpc::Status::OK;
}

}  // namespace latchkey::audit_sink
