#include "common/audit_recorder.h"

#include <algorithm>

#include "common/grpc_status.h"
#include "common/uds_server.h"
#include "proto/audit.grpc.pb.h"

namespace latchkey {
namespace {

// How long Reachable() waits for a disconnected audit channel.
constexpr int kConnectWaitMs = 1000;

std::chrono::system_clock::time_point Deadline(absl::Duration timeout) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout);
}

class GrpcAuditRecorder final : public AuditRecorder {
 public:
  GrpcAuditRecorder(const std::string& socket_path, absl::Duration timeout)
      : channel_(CreateUdsChannel(socket_path)),
        stub_(v1::AuditAppend::NewStub(channel_)),
        timeout_(timeout) {}

  absl::Status Record(const v1::AuditEvent& event) override {
    grpc::ClientContext context;
    context.set_deadline(Deadline(timeout_));
    // Wait for a connection within the deadline rather than failing at
    // once while the channel reconnects after a sink restart.
    context.set_wait_for_ready(true);
    v1::AppendRequest request;
    *request.mutable_event() = event;
    v1::AppendResponse response;
    return FromGrpcStatus(stub_->Append(&context, request, &response));
  }

  bool Reachable() override {
    if (channel_->GetState(/*try_to_connect=*/true) == GRPC_CHANNEL_READY) {
      return true;
    }
    // Not connected (first use, or the sink restarted): give it a short
    // moment to connect rather than executing upstream and only then
    // finding that the decision cannot be recorded.
    return channel_->WaitForConnected(
        Deadline(std::min(timeout_, absl::Milliseconds(kConnectWaitMs))));
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AuditAppend::Stub> stub_;
  absl::Duration timeout_;
};

}  // namespace

std::unique_ptr<AuditRecorder> NewGrpcAuditRecorder(
    const std::string& socket_path, absl::Duration timeout) {
  return std::make_unique<GrpcAuditRecorder>(socket_path, timeout);
}

}  // namespace latchkey
