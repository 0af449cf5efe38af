// The broker's two downstream dependencies, behind small interfaces so the
// decision logic can be tested without processes: the vault (which performs
// requests) and the audit sink (which records decisions).
#ifndef LATCHKEY_BROKER_DOWNSTREAM_CLIENTS_H_
#define LATCHKEY_BROKER_DOWNSTREAM_CLIENTS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/audit_recorder.h"
#include "proto/audit.grpc.pb.h"
#include "proto/vault.grpc.pb.h"

namespace latchkey::broker {

class VaultEgressClient {
 public:
  virtual ~VaultEgressClient() = default;
  virtual absl::StatusOr<v1::VaultExecuteResponse> Execute(
      const v1::VaultExecuteRequest& request) = 0;
};

// The audit client is shared with the vault; see common/audit_recorder.h.
using latchkey::AuditRecorder;
using latchkey::NewGrpcAuditRecorder;

// gRPC implementation over a Unix socket; one channel, kept open.
std::unique_ptr<VaultEgressClient> NewGrpcVaultEgressClient(
    const std::string& socket_path, absl::Duration timeout);

}  // namespace latchkey::broker

#endif  // LATCHKEY_BROKER_DOWNSTREAM_CLIENTS_H_
