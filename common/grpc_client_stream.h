// GrpcClientStream is one open client-side bidi streaming call behind a
// small blocking interface (Write, WritesDone, Read, Finish, Cancel), the
// shape of broker/downstream_clients.h's VaultStream and
// mcp_adapter/broker_client.h's BrokerStream. It owns the call's context,
// so the call lives exactly as long as the object.
#ifndef LATCHKEY_COMMON_GRPC_CLIENT_STREAM_H_
#define LATCHKEY_COMMON_GRPC_CLIENT_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "common/grpc_status.h"

namespace latchkey {

template <typename Interface, typename Request, typename Reply>
class GrpcClientStream final : public Interface {
 public:
  // `start` opens the call on the (prepared) context, e.g.
  // [&](grpc::ClientContext* c) { return stub->ExecuteStream(c); }.
  template <typename Start>
  GrpcClientStream(std::unique_ptr<grpc::ClientContext> context, Start start)
      : context_(std::move(context)), stream_(start(context_.get())) {}

  bool Write(const Request& message) override {
    return stream_->Write(message);
  }
  bool WritesDone() override { return stream_->WritesDone(); }
  bool Read(Reply* message) override { return stream_->Read(message); }
  absl::Status Finish() override {
    grpc::Status status = stream_->Finish();
    return status.ok() ? absl::OkStatus() : FromGrpcStatus(status);
  }
  void Cancel() override { context_->TryCancel(); }

 private:
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReaderWriter<Request, Reply>> stream_;
};

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_GRPC_CLIENT_STREAM_H_
