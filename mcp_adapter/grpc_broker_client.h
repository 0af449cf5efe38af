// GrpcBrokerClient talks to latchkey-broker over its Unix socket. It keeps
// one channel for the process lifetime, sends the agent token as
// "authorization: Bearer <token>" metadata and sets a deadline on every
// call.
#ifndef LATCHKEY_MCP_ADAPTER_GRPC_BROKER_CLIENT_H_
#define LATCHKEY_MCP_ADAPTER_GRPC_BROKER_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "mcp_adapter/broker_client.h"
#include "proto/broker.grpc.pb.h"

namespace latchkey::mcp {

struct GrpcBrokerClientOptions {
  // socket_path is broker.sock.
  std::string socket_path;
  // token is the agent's bearer token (never logged).
  std::string token;
  // execute_timeout bounds Execute: the vault's upstream timeout (60 s by
  // default) plus a margin.
  absl::Duration execute_timeout = absl::Seconds(70);
  // stream_timeout bounds one ExecuteStream call (a large download or
  // upload through the gateway); the broker and vault also bound it by the
  // capability's own timeouts.
  absl::Duration stream_timeout = absl::Hours(1);
  // call_timeout bounds OpenSession and ListCapabilities.
  absl::Duration call_timeout = absl::Seconds(5);
};

class GrpcBrokerClient final : public BrokerClient {
 public:
  explicit GrpcBrokerClient(GrpcBrokerClientOptions options);

  absl::StatusOr<v1::Session> OpenSession(const v1::OpenSessionRequest &request,
                                          Cancellation *cancel) override;
  absl::StatusOr<v1::ListCapabilitiesResponse> ListCapabilities(
      const v1::ListCapabilitiesRequest &request,
      Cancellation *cancel) override;
  absl::StatusOr<v1::ExecuteResponse> Execute(const v1::ExecuteRequest &request,
                                              Cancellation *cancel) override;
  absl::StatusOr<v1::WhoAmIResponse> WhoAmI(const v1::WhoAmIRequest &request,
                                            Cancellation *cancel) override;
  absl::StatusOr<v1::ExplainResponse> ExplainAccess(
      const v1::ExplainRequest &request, Cancellation *cancel) override;
  // TestCapability calls upstream, so it has execute_timeout.
  absl::StatusOr<v1::TestCapabilityResponse> TestCapability(
      const v1::TestCapabilityRequest &request, Cancellation *cancel) override;
  absl::StatusOr<std::unique_ptr<BrokerStream>> OpenExecuteStream() override;

 private:
  // PrepareContext adds the token and the deadline.
  void PrepareContext(grpc::ClientContext *context,
                      absl::Duration timeout) const;

  const GrpcBrokerClientOptions options_;
  std::unique_ptr<v1::Broker::Stub> stub_;
};

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_GRPC_BROKER_CLIENT_H_
