#include "mcp_adapter/grpc_broker_client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_client_stream.h"
#include "common/grpc_status.h"
#include "common/uds_server.h"

namespace latchkey::mcp {
namespace {

// Call runs one unary RPC with `context` hooked to `cancel`.
template <typename Response, typename Rpc>
absl::StatusOr<Response> Call(grpc::ClientContext *context,
                              Cancellation *cancel, Rpc rpc) {
  ScopedCancelHook hook(cancel, [context] { context->TryCancel(); });
  if (hook.cancelled()) return absl::CancelledError("cancelled by client");
  Response response;
  grpc::Status status = rpc(&response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

}  // namespace

GrpcBrokerClient::GrpcBrokerClient(GrpcBrokerClientOptions options)
    : options_(std::move(options)),
      stub_(v1::Broker::NewStub(CreateUdsChannel(options_.socket_path))) {}

void GrpcBrokerClient::PrepareContext(grpc::ClientContext *context,
                                      absl::Duration timeout) const {
  context->AddMetadata("authorization",
                       absl::StrCat("Bearer ", options_.token));
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

absl::StatusOr<v1::Session> GrpcBrokerClient::OpenSession(
    const v1::OpenSessionRequest &request, Cancellation *cancel) {
  grpc::ClientContext context;
  PrepareContext(&context, options_.call_timeout);
  return Call<v1::Session>(&context, cancel, [&](v1::Session *response) {
    return stub_->OpenSession(&context, request, response);
  });
}

absl::StatusOr<v1::ListCapabilitiesResponse> GrpcBrokerClient::ListCapabilities(
    const v1::ListCapabilitiesRequest &request, Cancellation *cancel) {
  grpc::ClientContext context;
  PrepareContext(&context, options_.call_timeout);
  return Call<v1::ListCapabilitiesResponse>(
      &context, cancel, [&](v1::ListCapabilitiesResponse *response) {
        return stub_->ListCapabilities(&context, request, response);
      });
}

absl::StatusOr<v1::ExecuteResponse> GrpcBrokerClient::Execute(
    const v1::ExecuteRequest &request, Cancellation *cancel) {
  grpc::ClientContext context;
  PrepareContext(&context, options_.execute_timeout);
  return Call<v1::ExecuteResponse>(
      &context, cancel, [&](v1::ExecuteResponse *response) {
        return stub_->Execute(&context, request, response);
      });
}

absl::StatusOr<std::unique_ptr<BrokerStream>>
GrpcBrokerClient::OpenExecuteStream() {
  auto context = std::make_unique<grpc::ClientContext>();
  PrepareContext(context.get(), options_.stream_timeout);
  return std::make_unique<GrpcClientStream<
      BrokerStream, v1::ExecuteStreamRequest, v1::ExecuteStreamReply>>(
      std::move(context),
      [this](grpc::ClientContext *c) { return stub_->ExecuteStream(c); });
}

absl::StatusOr<v1::WhoAmIResponse> GrpcBrokerClient::WhoAmI(
    const v1::WhoAmIRequest &request, Cancellation *cancel) {
  grpc::ClientContext context;
  PrepareContext(&context, options_.call_timeout);
  return Call<v1::WhoAmIResponse>(
      &context, cancel, [&](v1::WhoAmIResponse *response) {
        return stub_->WhoAmI(&context, request, response);
      });
}

absl::StatusOr<v1::ExplainResponse> GrpcBrokerClient::ExplainAccess(
    const v1::ExplainRequest &request, Cancellation *cancel) {
  grpc::ClientContext context;
  PrepareContext(&context, options_.call_timeout);
  return Call<v1::ExplainResponse>(
      &context, cancel, [&](v1::ExplainResponse *response) {
        return stub_->ExplainAccess(&context, request, response);
      });
}

absl::StatusOr<v1::TestCapabilityResponse> GrpcBrokerClient::TestCapability(
    const v1::TestCapabilityRequest &request, Cancellation *cancel) {
  grpc::ClientContext context;
  PrepareContext(&context, options_.execute_timeout);
  return Call<v1::TestCapabilityResponse>(
      &context, cancel, [&](v1::TestCapabilityResponse *response) {
        return stub_->TestCapability(&context, request, response);
      });
}

}  // namespace latchkey::mcp
