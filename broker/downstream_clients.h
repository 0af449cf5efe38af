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

// VaultStream is one open VaultEgress.ExecuteStream call (see
// proto/vault.proto for the order of messages). Write/Read block; false
// means the stream is over, and Finish says why.
class VaultStream {
 public:
  virtual ~VaultStream() = default;
  virtual bool Write(const v1::VaultStreamRequest &message) = 0;
  virtual bool WritesDone() = 0;
  virtual bool Read(v1::VaultStreamReply *message) = 0;
  // Finish waits for the vault's final status. Call it once, after Read
  // returned false or after Cancel.
  virtual absl::Status Finish() = 0;
  // Cancel ends the call at once (the vault aborts its upstream transfer).
  virtual void Cancel() = 0;
};

class VaultEgressClient {
 public:
  virtual ~VaultEgressClient() = default;
  virtual absl::StatusOr<v1::VaultExecuteResponse> Execute(
      const v1::VaultExecuteRequest &request) = 0;
  // OpenStream starts an ExecuteStream call that must end within
  // `timeout`.
  virtual absl::StatusOr<std::unique_ptr<VaultStream>> OpenStream(
      absl::Duration timeout) {
    (void)timeout;
    return absl::UnimplementedError("this vault client cannot stream");
  }
};

// The audit client is shared with the vault; see common/audit_recorder.h.
using latchkey::AuditRecorder;
using latchkey::NewGrpcAuditRecorder;

// gRPC implementation over a Unix socket; one channel, kept open.
std::unique_ptr<VaultEgressClient> NewGrpcVaultEgressClient(
    const std::string &socket_path, absl::Duration timeout);

}  // namespace latchkey::broker

#endif  // LATCHKEY_BROKER_DOWNSTREAM_CLIENTS_H_
