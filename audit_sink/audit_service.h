// The sink's gRPC services on audit.sock: AuditAppend for the broker and
// vault ("writer" role) and AuditAdmin for operators ("operator" role).
// Every handler checks the caller's role with PeerGuard before anything
// else.
#ifndef LATCHKEY_AUDIT_SINK_AUDIT_SERVICE_H_
#define LATCHKEY_AUDIT_SINK_AUDIT_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>

#include "audit_sink/audit_log.h"
#include "common/peer_guard.h"
#include "proto/audit.grpc.pb.h"

namespace latchkey::audit_sink {

inline constexpr char kWriterRole[] = "writer";
inline constexpr char kOperatorRole[] = "operator";

// PermitAuditMethods enters the sink's permission table in `guard`:
// writers may Append, operators may Query, Tail, Verify, Backup,
// GetMetrics and GetCheckpoint.
void PermitAuditMethods(PeerGuard* guard);

class AuditAppendService final : public v1::AuditAppend::Service {
 public:
  // `log` and `guard` must outlive the service.
  AuditAppendService(AuditLog* log, const PeerGuard* guard)
      : log_(log), guard_(guard) {}

  grpc::Status Append(grpc::ServerContext* context,
                      const v1::AppendRequest* request,
                      v1::AppendResponse* response) override;
  grpc::Status AppendBatch(grpc::ServerContext* context,
                           const v1::AppendBatchRequest* request,
                           v1::AppendBatchResponse* response) override;

 private:
  AuditLog* const log_;
  const PeerGuard* const guard_;
};

class AuditAdminService final : public v1::AuditAdmin::Service {
 public:
  // `log` and `guard` must outlive the service.
  AuditAdminService(const AuditLog* log, const PeerGuard* guard)
      : log_(log), guard_(guard) {}

  grpc::Status Query(grpc::ServerContext* context,
                     const v1::QueryRequest* request,
                     v1::QueryResponse* response) override;
  // Tail streams records from request->from_sequence() (0: only new ones)
  // and follows the log until the client cancels or BeginShutdown().
  grpc::Status Tail(grpc::ServerContext* context,
                    const v1::TailRequest* request,
                    grpc::ServerWriter<v1::AuditRecord>* writer) override;
  grpc::Status Verify(grpc::ServerContext* context,
                      const v1::VerifyRequest* request,
                      v1::VerifyResponse* response) override;
  // Backup streams the log up to its durable end, the signed checkpoints
  // and the key files (audit_backup.cc).
  grpc::Status Backup(grpc::ServerContext* context,
                      const v1::BackupAuditRequest* request,
                      grpc::ServerWriter<v1::BackupChunk>* writer) override;
  grpc::Status GetMetrics(grpc::ServerContext* context,
                          const v1::GetMetricsRequest* request,
                          v1::MetricsSnapshot* response) override;
  // GetCheckpoint returns the newest durable record's sequence and hash
  // and the newest signed checkpoint line, to be kept off this host.
  grpc::Status GetCheckpoint(grpc::ServerContext* context,
                             const v1::GetCheckpointRequest* request,
                             v1::GetCheckpointResponse* response) override;

  // BeginShutdown ends every Tail stream (with OK) within a poll interval,
  // so that the server's shutdown need not wait for followers.
  void BeginShutdown() { stopping_.store(true); }

 private:
  const AuditLog* const log_;
  const PeerGuard* const guard_;
  std::atomic<bool> stopping_{false};
};

}  // namespace latchkey::audit_sink

#endif  // LATCHKEY_AUDIT_SINK_AUDIT_SERVICE_H_
