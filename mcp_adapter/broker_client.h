// BrokerClient is what the MCP adapter needs from latchkey-broker: the
// agent-facing RPCs of latchkey.v1.Broker. GrpcBrokerClient is the
// real one; tests use a hand-written fake.
#ifndef LATCHKEY_MCP_ADAPTER_BROKER_CLIENT_H_
#define LATCHKEY_MCP_ADAPTER_BROKER_CLIENT_H_

#include <memory>

#include "absl/status/statusor.h"
#include "mcp_adapter/cancellation.h"
#include "proto/broker.pb.h"

namespace latchkey::mcp {

// Every method is thread-safe and may run concurrently with the others.
// `cancel` may be null; when it is cancelled during the call, the call
// ends with CANCELLED. A broker refusal of a request (policy, session) is
// an OK ExecuteResponse with DECISION_DENY; a non-OK status means the
// broker could not be asked or refused the caller (UNAVAILABLE,
// UNAUTHENTICATED, PERMISSION_DENIED, DEADLINE_EXCEEDED, ...).
// BrokerStream is one open Broker.ExecuteStream call (see
// proto/broker.proto for the order of messages). Write/Read block; false
// means the stream is over, and Finish says why.
class BrokerStream {
 public:
  virtual ~BrokerStream() = default;
  virtual bool Write(const v1::ExecuteStreamRequest &message) = 0;
  virtual bool WritesDone() = 0;
  virtual bool Read(v1::ExecuteStreamReply *message) = 0;
  // Finish waits for the final status; call it once, at the end.
  virtual absl::Status Finish() = 0;
  // Cancel ends the call at once (the broker and vault stop the transfer).
  virtual void Cancel() = 0;
};

class BrokerClient {
 public:
  virtual ~BrokerClient() = default;

  virtual absl::StatusOr<v1::Session> OpenSession(
      const v1::OpenSessionRequest &request, Cancellation *cancel) = 0;

  virtual absl::StatusOr<v1::ListCapabilitiesResponse> ListCapabilities(
      const v1::ListCapabilitiesRequest &request, Cancellation *cancel) = 0;

  virtual absl::StatusOr<v1::ExecuteResponse> Execute(
      const v1::ExecuteRequest &request, Cancellation *cancel) = 0;

  // The introspection RPCs behind whoami, explain_access and
  // test_capability.
  virtual absl::StatusOr<v1::WhoAmIResponse> WhoAmI(
      const v1::WhoAmIRequest &request, Cancellation *cancel) = 0;
  virtual absl::StatusOr<v1::ExplainResponse> ExplainAccess(
      const v1::ExplainRequest &request, Cancellation *cancel) = 0;
  virtual absl::StatusOr<v1::TestCapabilityResponse> TestCapability(
      const v1::TestCapabilityRequest &request, Cancellation *cancel) = 0;

  // OpenExecuteStream starts an ExecuteStream call (the gateway's path for
  // bodies of any size).
  virtual absl::StatusOr<std::unique_ptr<BrokerStream>> OpenExecuteStream() {
    return absl::UnimplementedError("this broker client cannot stream");
  }
};

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_BROKER_CLIENT_H_
