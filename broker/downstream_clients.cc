#include "broker/downstream_clients.h"

#include "common/grpc_client_stream.h"
#include "common/grpc_status.h"
#include "common/uds_server.h"

namespace latchkey::broker {
namespace {

std::chrono::system_clock::time_point Deadline(absl::Duration timeout) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout);
}

class GrpcVaultEgressClient final : public VaultEgressClient {
 public:
  GrpcVaultEgressClient(const std::string &socket_path, absl::Duration timeout)
      : stub_(v1::VaultEgress::NewStub(CreateUdsChannel(socket_path))),
        timeout_(timeout) {}

  absl::StatusOr<v1::VaultExecuteResponse> Execute(
      const v1::VaultExecuteRequest &request) override {
    grpc::ClientContext context;
    context.set_deadline(Deadline(timeout_));
    v1::VaultExecuteResponse response;
    grpc::Status status = stub_->Execute(&context, request, &response);
    if (!status.ok()) return FromGrpcStatus(status);
    return response;
  }

  absl::StatusOr<std::unique_ptr<VaultStream>> OpenStream(
      absl::Duration timeout) override {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(Deadline(timeout));
    return std::make_unique<GrpcClientStream<
        VaultStream, v1::VaultStreamRequest, v1::VaultStreamReply>>(
        std::move(context),
        [this](grpc::ClientContext *c) { return stub_->ExecuteStream(c); });
  }

 private:
  std::unique_ptr<v1::VaultEgress::Stub> stub_;
  absl::Duration timeout_;
};

}  // namespace

std::unique_ptr<VaultEgressClient> NewGrpcVaultEgressClient(
    const std::string &socket_path, absl::Duration timeout) {
  return std::make_unique<GrpcVaultEgressClient>(socket_path, timeout);
}

}  // namespace latchkey::broker
