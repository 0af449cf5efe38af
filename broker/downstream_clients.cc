#include "broker/downstream_clients.h"

#include "common/grpc_status.h"
#include "common/uds_server.h"

namespace latchkey::broker {
namespace {

std::chrono::system_clock::time_point Deadline(absl::Duration timeout) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout);
}

class GrpcVaultStream final : public VaultStream {
 public:
  GrpcVaultStream(v1::VaultEgress::Stub *stub, absl::Duration timeout) {
    context_.set_deadline(Deadline(timeout));
    stream_ = stub->ExecuteStream(&context_);
  }
  bool Write(const v1::VaultStreamRequest &message) override {
    return stream_->Write(message);
  }
  bool WritesDone() override { return stream_->WritesDone(); }
  bool Read(v1::VaultStreamReply *message) override {
    return stream_->Read(message);
  }
  absl::Status Finish() override {
    grpc::Status status = stream_->Finish();
    return status.ok() ? absl::OkStatus() : FromGrpcStatus(status);
  }
  void Cancel() override { context_.TryCancel(); }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::VaultStreamRequest, v1::VaultStreamReply>>
      stream_;
};

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
    return std::make_unique<GrpcVaultStream>(stub_.get(), timeout);
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
