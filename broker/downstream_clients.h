// The broker's two downstream dependencies, behind small interfaces so the
// decision logic can be tested without processes: the vault (which performs
// requests) and the audit sink (which records decisions).
#ifndef LATCHKEY_BROKER_DOWNSTREAM_CLIENTS_H_
#define LATCHKEY_BROKER_DOWNSTREAM_CLIENTS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/audit.grpc.pb.h"
#include "proto/vault.grpc.pb.h"

namespace latchkey::broker {

class VaultEgressClient {
 public:
  virtual ~VaultEgressClient() = default;
  virtual absl::StatusOr<v1::VaultExecuteResponse> Execute(
      const v1::VaultExecuteRequest& request) = 0;
};

class AuditRecorder {
 public:
  virtual ~AuditRecorder() = default;
  // Record returns OK only once the sink has the event durably on disk.
  virtual absl::Status Record(const v1::AuditEvent& event) = 0;
  // Reachable is a cheap pre-check: false means the sink is known to be
  // down, so the request is refused before anything is executed.
  virtual bool Reachable() = 0;
};

// gRPC implementations over Unix sockets; one channel each, kept open.
std::unique_ptr<VaultEgressClient> NewGrpcVaultEgressClient(
    const std::string& socket_path, absl::Duration timeout);
std::unique_ptr<AuditRecorder> NewGrpcAuditRecorder(
    const std::string& socket_path, absl::Duration timeout);

}  // namespace latchkey::broker

#endif  // LATCHKEY_BROKER_DOWNSTREAM_CLIENTS_H_
