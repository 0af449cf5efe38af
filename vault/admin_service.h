// AdminService implements latchkey.v1.VaultAdmin for operators. No RPC
// returns a secret value.
#ifndef LATCHKEY_VAULT_ADMIN_SERVICE_H_
#define LATCHKEY_VAULT_ADMIN_SERVICE_H_

#include "common/peer_guard.h"
#include "proto/vault.grpc.pb.h"
#include "vault/vault_core.h"

namespace latchkey::vault {

class AdminService final : public v1::VaultAdmin::Service {
 public:
  AdminService(VaultCore* core, const PeerGuard* guard)
      : core_(core), guard_(guard) {}

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

 private:
  VaultCore* core_;
  const PeerGuard* guard_;
};

// ConfigureVaultPermissions fills the vault's permission table: the broker
// role may call VaultEgress, the operator role may call VaultAdmin.
void ConfigureVaultPermissions(PeerGuard* guard);

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_ADMIN_SERVICE_H_
