#include "vault/admin_service.h"

#include "absl/strings/str_cat.h"
#include "common/backup_files.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/secure_buffer.h"

namespace latchkey::vault {
namespace {

constexpr char kService[] = "/latchkey.v1.VaultAdmin/";

// Authorized runs `body` if the caller's uid may call `method`.
template <typename Body>
grpc::Status Authorized(const PeerGuard* guard, grpc::ServerContext* context,
                        const char* method, Body body) {
  absl::StatusOr<PeerCredentials> peer =
      guard->Authorize(*context, absl::StrCat(kService, method));
  if (!peer.ok()) return ToGrpcStatus(peer.status());
  return ToGrpcStatus(body(*peer));
}

// Assign stores a StatusOr's value into a reply and returns its status.
template <typename T>
absl::Status Assign(absl::StatusOr<T> result, T* response) {
  if (!result.ok()) return result.status();
  *response = std::move(*result);
  return absl::OkStatus();
}

}  // namespace

void AdminService::AuditSealEvent(const PeerCredentials& peer,
                                  const char* operation,
                                  const absl::Status& outcome) {
  if (audit_ == nullptr) return;
  v1::AuditEvent event;
  event.set_source("vault");
  event.set_method(operation);
  event.set_peer_uid(peer.uid);
  event.set_decision(outcome.ok() ? v1::DECISION_ALLOW : v1::DECISION_DENY);
  switch (outcome.code()) {
    case absl::StatusCode::kOk:
      event.set_reason_code(v1::REASON_ALLOWED);
      break;
    case absl::StatusCode::kResourceExhausted:
      event.set_reason_code(v1::REASON_RATE_LIMITED);
      break;
    case absl::StatusCode::kInvalidArgument:
      event.set_reason_code(v1::REASON_INVALID_REQUEST);
      break;
    default:
      event.set_reason_code(v1::REASON_UNAUTHENTICATED);
  }
  // Status messages of the vault never contain key material.
  event.set_reason(outcome.ok() ? std::string(operation) + " accepted"
                                : std::string(outcome.message()));
  absl::Status recorded = audit_->Record(event);
  if (!recorded.ok()) {
    LogWarning("audit_failed",
               {{"operation", operation}, {"error", recorded.ToString()}});
  }
}

void ConfigureVaultPermissions(PeerGuard* guard) {
  guard->Permit("/latchkey.v1.VaultEgress/Execute", "broker");
  guard->Permit("/latchkey.v1.VaultEgress/ExecuteStream", "broker");
  for (const char* method :
       {"GetStatus", "Init", "Unseal", "Seal", "PutSecret", "GetSecretMetadata",
        "ListSecrets", "DeleteSecret", "Rekey", "RotateKeyring", "Backup"}) {
    guard->Permit(absl::StrCat(kService, method), "operator");
  }
  guard->Permit(absl::StrCat(kService, "GetMetrics"), "operator");
}

grpc::Status AdminService::GetStatus(grpc::ServerContext* context,
                                     const v1::GetStatusRequest*,
                                     v1::VaultStatus* response) {
  return Authorized(guard_, context, "GetStatus", [&](const PeerCredentials&) {
    *response = core_->Status();
    return absl::OkStatus();
  });
}

grpc::Status AdminService::Init(grpc::ServerContext* context,
                                const v1::InitRequest* request,
                                v1::InitResponse* response) {
  return Authorized(guard_, context, "Init", [&](const PeerCredentials& peer) {
    LogInfo("init_requested", {{"uid", absl::StrCat(peer.uid)}});
    absl::Status status = Assign(core_->Init(*request), response);
    // The passphrase arrived in a protobuf string; wipe our copy of it.
    // The unseal keys in `response` are serialized by gRPC after this
    // returns and freed with the reply (they leave exactly once).
    CleanseString(const_cast<v1::InitRequest*>(request)->mutable_passphrase());
    return status;
  });
}

grpc::Status AdminService::Unseal(grpc::ServerContext* context,
                                  const v1::UnsealRequest* request,
                                  v1::VaultStatus* response) {
  return Authorized(
      guard_, context, "Unseal", [&](const PeerCredentials& peer) {
        LogInfo("unseal_requested", {{"uid", absl::StrCat(peer.uid)}});
        absl::Status status = Assign(core_->Unseal(*request), response);
        // The key share arrived in a protobuf string; wipe our copy of it.
        CleanseString(const_cast<v1::UnsealRequest*>(request)->mutable_key());
        CleanseString(
            const_cast<v1::UnsealRequest*>(request)->mutable_passphrase());
        AuditSealEvent(peer, "Unseal", status);
        LogInfo("unseal_result",
                {{"uid", absl::StrCat(peer.uid)},
                 {"result", status.ok() ? "ok" : status.ToString()},
                 {"sealed", response->sealed() ? "yes" : "no"},
                 {"progress", absl::StrCat(response->progress())}});
        return status;
      });
}

grpc::Status AdminService::Seal(grpc::ServerContext* context,
                                const v1::SealRequest*,
                                v1::VaultStatus* response) {
  return Authorized(guard_, context, "Seal", [&](const PeerCredentials& peer) {
    LogInfo("seal_requested", {{"uid", absl::StrCat(peer.uid)}});
    *response = core_->Seal();
    AuditSealEvent(peer, "Seal", absl::OkStatus());
    return absl::OkStatus();
  });
}

grpc::Status AdminService::PutSecret(grpc::ServerContext* context,
                                     const v1::PutSecretRequest* request,
                                     v1::SecretMetadata* response) {
  return Authorized(
      guard_, context, "PutSecret", [&](const PeerCredentials& peer) {
        absl::Status status = Assign(core_->PutSecret(*request), response);
        CleanseString(
            const_cast<v1::PutSecretRequest*>(request)->mutable_value());
        LogInfo("put_secret", {{"uid", absl::StrCat(peer.uid)},
                               {"secret_id", request->id()},
                               {"result", status.ToString()}});
        return status;
      });
}

grpc::Status AdminService::GetSecretMetadata(
    grpc::ServerContext* context, const v1::GetSecretMetadataRequest* request,
    v1::SecretMetadata* response) {
  return Authorized(
      guard_, context, "GetSecretMetadata", [&](const PeerCredentials&) {
        return Assign(core_->GetSecretMetadata(request->id()), response);
      });
}

grpc::Status AdminService::ListSecrets(grpc::ServerContext* context,
                                       const v1::ListSecretsRequest*,
                                       v1::ListSecretsResponse* response) {
  return Authorized(guard_, context, "ListSecrets",
                    [&](const PeerCredentials&) {
                      return Assign(core_->ListSecrets(), response);
                    });
}

grpc::Status AdminService::DeleteSecret(grpc::ServerContext* context,
                                        const v1::DeleteSecretRequest* request,
                                        v1::DeleteSecretResponse* response) {
  return Authorized(
      guard_, context, "DeleteSecret", [&](const PeerCredentials& peer) {
        LogInfo("delete_secret", {{"uid", absl::StrCat(peer.uid)},
                                  {"secret_id", request->id()}});
        return Assign(core_->DeleteSecret(request->id()), response);
      });
}

grpc::Status AdminService::Rekey(grpc::ServerContext* context,
                                 const v1::RekeyRequest* request,
                                 v1::RekeyResponse* response) {
  return Authorized(guard_, context, "Rekey", [&](const PeerCredentials& peer) {
    absl::Status status = Assign(core_->Rekey(*request), response);
    auto* mutable_request = const_cast<v1::RekeyRequest*>(request);
    CleanseString(mutable_request->mutable_key());
    CleanseString(mutable_request->mutable_passphrase());
    CleanseString(mutable_request->mutable_new_passphrase());
    LogInfo("rekey", {{"uid", absl::StrCat(peer.uid)},
                      {"result", status.ok() ? "ok" : status.ToString()},
                      {"complete", response->complete() ? "yes" : "no"}});
    return status;
  });
}

grpc::Status AdminService::RotateKeyring(grpc::ServerContext* context,
                                         const v1::RotateKeyringRequest*,
                                         v1::RotateKeyringResponse* response) {
  return Authorized(
      guard_, context, "RotateKeyring", [&](const PeerCredentials& peer) {
        LogInfo("rotate_keyring_requested", {{"uid", absl::StrCat(peer.uid)}});
        return Assign(core_->RotateKeyring(), response);
      });
}

grpc::Status AdminService::Backup(grpc::ServerContext* context,
                                  const v1::BackupVaultRequest*,
                                  grpc::ServerWriter<v1::BackupChunk>* writer) {
  return Authorized(
      guard_, context, "Backup", [&](const PeerCredentials& peer) {
        if (backup_state_dir_.empty()) {
          return absl::FailedPreconditionError(
              "this vault was started without a state directory for backups");
        }
        absl::Status status = BackupSqliteStore(backup_state_dir_, "vault.db",
                                                VaultSchemaPlan(), writer);
        AuditSealEvent(peer, "Backup", status);
        return status;
      });
}

grpc::Status AdminService::GetMetrics(grpc::ServerContext* context,
                                      const v1::GetMetricsRequest*,
                                      v1::MetricsSnapshot* response) {
  return Authorized(guard_, context, "GetMetrics", [&](const PeerCredentials&) {
    *response = metrics::Registry::Global().Snapshot("vault");
    return absl::OkStatus();
  });
}

}  // namespace latchkey::vault
