#include "tests/broker_call.h"

#include <chrono>

#include "common/grpc_status.h"
#include "common/uds_server.h"
#include "proto/broker.grpc.pb.h"

namespace latchkey::testing {
namespace {

void Prepare(grpc::ClientContext* context, const std::string& token,
             absl::Duration timeout) {
  context->AddMetadata("authorization", "Bearer " + token);
  context->set_deadline(std::chrono::system_clock::now() +
                        absl::ToChronoNanoseconds(timeout));
}

}  // namespace

absl::StatusOr<v1::ExecuteResponse> OpenSessionAndGet(
    const std::string& broker_socket, const std::string& token,
    const std::string& capability, const std::string& path,
    absl::Duration timeout) {
  auto stub = v1::Broker::NewStub(CreateUdsChannel(broker_socket));
  v1::OpenSessionRequest open;
  open.add_capabilities(capability);
  v1::Session session;
  {
    grpc::ClientContext context;
    Prepare(&context, token, timeout);
    grpc::Status rpc = stub->OpenSession(&context, open, &session);
    if (!rpc.ok()) return FromGrpcStatus(rpc);
  }
  v1::ExecuteRequest execute;
  execute.set_session_id(session.id());
  execute.set_capability(capability);
  execute.mutable_request()->set_method("GET");
  execute.mutable_request()->set_path(path);
  execute.set_reason("cross-process test");
  v1::ExecuteResponse response;
  grpc::ClientContext context;
  Prepare(&context, token, timeout);
  grpc::Status rpc = stub->Execute(&context, execute, &response);
  if (!rpc.ok()) return FromGrpcStatus(rpc);
  return response;
}

}  // namespace latchkey::testing
