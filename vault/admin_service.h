// AdminService implements latchkey.v1.VaultAdmin for operators. No RPC
// returns a secret value.
#ifndef LATCHKEY_VAULT_ADMIN_SERVICE_H_
#define LATCHKEY_VAULT_ADMIN_SERVICE_H_

#include "common/audit_recorder.h"
#include "common/peer_guard.h"
#include "proto/vault.grpc.pb.h"
#include "vault/vault_core.h"

namespace latchkey::vault {

class AdminService final : public v1::VaultAdmin::Service {
 public:
  // `audit`, when not null, receives a record of every seal-state change
  // and unseal attempt (with the caller's uid); the vault keeps working if
  // the sink is down, and says so in its log.
  AdminService(VaultCore* core, const PeerGuard* guard,
               AuditRecorder* audit = nullptr)
      : core_(core), guard_(guard), audit_(audit) {}

  grpc::Status GetStatus(grpc::ServerContext* context,
                         const v1::GetStatusRequest* request,
                         v1::VaultStatus* response) override;
  grpc::Status Init(grpc::ServerContext* context,
                    const v1::InitRequest* request,
                    v1::InitResponse* response) override;
  grpc::Status Unseal(grpc::ServerContext* context,
                      const v1::UnsealRequest* request,
                      v1::VaultStatus* response) override;
  grpc::Status Seal(grpc::ServerContext* context,
                    const v1::SealRequest* request,
                    v1::VaultStatus* response) override;
  grpc::Status PutSecret(grpc::ServerContext* context,
                         const v1::PutSecretRequest* request,
                         v1::SecretMetadata* response) override;
  grpc::Status GetSecretMetadata(grpc::ServerContext* context,
                                 const v1::GetSecretMetadataRequest* request,
                                 v1::SecretMetadata* response) override;
  grpc::Status ListSecrets(grpc::ServerContext* context,
                           const v1::ListSecretsRequest* request,
                           v1::ListSecretsResponse* response) override;
  grpc::Status DeleteSecret(grpc::ServerContext* context,
                            const v1::DeleteSecretRequest* request,
                            v1::DeleteSecretResponse* response) override;
  grpc::Status Rekey(grpc::ServerContext* context,
                     const v1::RekeyRequest* request,
                     v1::RekeyResponse* response) override;
  grpc::Status RotateKeyring(grpc::ServerContext* context,
                             const v1::RotateKeyringRequest* request,
                             v1::RotateKeyringResponse* response) override;
  // Backup streams a snapshot of `state_dir`/vault.db as stored (never
  // decrypted, so it works sealed too); FAILED_PRECONDITION until
  // EnableBackup.
  grpc::Status Backup(grpc::ServerContext* context,
                      const v1::BackupVaultRequest* request,
                      grpc::ServerWriter<v1::BackupChunk>* writer) override;

  // EnableBackup names the state directory holding vault.db.
  void EnableBackup(std::string state_dir) {
    backup_state_dir_ = std::move(state_dir);
  }
  grpc::Status GetMetrics(grpc::ServerContext* context,
                          const v1::GetMetricsRequest* request,
                          v1::MetricsSnapshot* response) override;

 private:
  // AuditSealEvent records one seal-state operation and its outcome.
  void AuditSealEvent(const PeerCredentials& peer, const char* operation,
                      const absl::Status& outcome);

  VaultCore* core_;
  const PeerGuard* guard_;
  AuditRecorder* audit_;
  std::string backup_state_dir_;
};

// ConfigureVaultPermissions fills the vault's permission table: the broker
// role may call VaultEgress, the operator role may call VaultAdmin.
void ConfigureVaultPermissions(PeerGuard* guard);

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_ADMIN_SERVICE_H_
