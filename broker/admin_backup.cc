// BrokerAdmin.Backup: a consistent snapshot of broker.db (configuration in
// force, sessions, revocations) streamed to an operator. Kept apart from
// broker_service.cc, which is about requests and administration.
#include "broker/broker_service.h"
#include "broker/broker_store.h"
#include "common/backup_files.h"
#include "common/grpc_status.h"

namespace latchkey::broker {

grpc::Status AdminService::Backup(grpc::ServerContext* context,
                                  const v1::BackupBrokerRequest*,
                                  grpc::ServerWriter<v1::BackupChunk>* writer) {
  absl::StatusOr<PeerCredentials> peer =
      guard_->Authorize(*context, "/latchkey.v1.BrokerAdmin/Backup");
  if (!peer.ok()) return ToGrpcStatus(peer.status());
  if (backup_state_dir_.empty()) {
    return ToGrpcStatus(absl::FailedPreconditionError(
        "this broker was started without a state directory for backups"));
  }
  return ToGrpcStatus(BackupSqliteStore(backup_state_dir_, "broker.db",
                                        BrokerStore::SchemaPlan(), writer));
}

}  // namespace latchkey::broker
