#include "mcp_adapter/grpc_broker_client.h"

#include <grpcpp/grpcpp.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <mutex>
#include <thread>

#include "common/grpc_status.h"
#include "common/refusal.h"
#include "gtest/gtest.h"
#include "mcp_adapter/tool_results.h"
#include "proto/broker.grpc.pb.h"

namespace latchkey::mcp {
namespace {

using Clock = std::chrono::system_clock;

// RecordingBroker answers every call and records what the client sent.
class RecordingBroker final : public v1::Broker::Service {
 public:
  grpc::Status OpenSession(grpc::ServerContext* context,
                           const v1::OpenSessionRequest*,
                           v1::Session* session) override {
    Record(*context);
    if (refuse_token_) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "bad token");
    }
    if (revoked_) {
      // What the broker's SessionRegistry::Open answers after `revoke all`.
      return ToGrpcStatus(Refuse(absl::StatusCode::kPermissionDenied,
                                 Refusal::kRevoked,
                                 "all access was revoked by an operator"));
    }
    session->set_id("abcdef0123456789");
    return grpc::Status::OK;
  }
  grpc::Status ListCapabilities(
      grpc::ServerContext* context, const v1::ListCapabilitiesRequest*,
      v1::ListCapabilitiesResponse* response) override {
    Record(*context);
    response->add_capabilities()->set_name("github");
    return grpc::Status::OK;
  }
  grpc::Status Execute(grpc::ServerContext* context,
                       const v1::ExecuteRequest* request,
                       v1::ExecuteResponse* response) override {
    Record(*context);
    if (request->capability() == "hang") {
      // Wait until the client gives up (cancel or deadline).
      while (!context->IsCancelled()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      return grpc::Status::CANCELLED;
    }
    response->set_decision(v1::DECISION_ALLOW);
    response->set_request_id(request->session_id());
    return grpc::Status::OK;
  }

  std::string authorization() {
    std::lock_guard<std::mutex> lock(mu_);
    return authorization_;
  }
  Clock::duration deadline_left() {
    std::lock_guard<std::mutex> lock(mu_);
    return deadline_left_;
  }
  bool refuse_token_ = false;
  bool revoked_ = false;

 private:
  void Record(const grpc::ServerContext& context) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = context.client_metadata().find("authorization");
    authorization_ = it == context.client_metadata().end()
                         ? ""
                         : std::string(it->second.data(), it->second.size());
    deadline_left_ = context.deadline() - Clock::now();
  }
  std::mutex mu_;
  std::string authorization_;
  Clock::duration deadline_left_{};
};

class GrpcBrokerClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/lk-mcp-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    dir_ = templ;
    socket_ = dir_ + "/broker.sock";
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_,
                             grpc::InsecureServerCredentials());
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(Clock::now() + std::chrono::seconds(1));
    std::string cmd = "rm -rf " + dir_;
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  GrpcBrokerClientOptions Options() {
    GrpcBrokerClientOptions options;
    options.socket_path = socket_;
    options.token = "lk_agent_TOKEN";
    return options;
  }

  std::string dir_;
  std::string socket_;
  RecordingBroker service_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(GrpcBrokerClientTest, SendsBearerTokenAndDeadlines) {
  GrpcBrokerClient client(Options());
  auto session = client.OpenSession({}, nullptr);
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ(session->id(), "abcdef0123456789");
  EXPECT_EQ(service_.authorization(), "Bearer lk_agent_TOKEN");
  // gRPC rounds the timeout it transmits up, so the server may see a
  // little more than the client set.
  EXPECT_GT(service_.deadline_left(), std::chrono::seconds(3));
  EXPECT_LE(service_.deadline_left(), std::chrono::milliseconds(5200));

  auto list = client.ListCapabilities({}, nullptr);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->capabilities(0).name(), "github");
  EXPECT_LE(service_.deadline_left(), std::chrono::milliseconds(5200));

  v1::ExecuteRequest request;
  request.set_session_id("s1");
  auto executed = client.Execute(request, nullptr);
  ASSERT_TRUE(executed.ok());
  EXPECT_EQ(executed->request_id(), "s1");
  EXPECT_GT(service_.deadline_left(), std::chrono::seconds(60));
  EXPECT_LE(service_.deadline_left(), std::chrono::milliseconds(70200));
  EXPECT_EQ(service_.authorization(), "Bearer lk_agent_TOKEN");
}

TEST_F(GrpcBrokerClientTest, DeadlineExceeded) {
  GrpcBrokerClientOptions options = Options();
  options.execute_timeout = absl::Milliseconds(200);
  GrpcBrokerClient client(options);
  v1::ExecuteRequest request;
  request.set_capability("hang");
  auto start = Clock::now();
  auto executed = client.Execute(request, nullptr);
  EXPECT_EQ(executed.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
}

TEST_F(GrpcBrokerClientTest, CancellationStopsTheCall) {
  GrpcBrokerClient client(Options());
  Cancellation cancel;
  v1::ExecuteRequest request;
  request.set_capability("hang");
  auto call = std::async(std::launch::async,
                         [&] { return client.Execute(request, &cancel); });
  EXPECT_EQ(call.wait_for(std::chrono::milliseconds(100)),
            std::future_status::timeout);
  cancel.Cancel();
  ASSERT_EQ(call.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(call.get().status().code(), absl::StatusCode::kCancelled);
  // Already cancelled: the next call does not start.
  EXPECT_EQ(client.Execute(request, &cancel).status().code(),
            absl::StatusCode::kCancelled);
}

TEST_F(GrpcBrokerClientTest, RefusedTokenIsUnauthenticated) {
  service_.refuse_token_ = true;
  GrpcBrokerClient client(Options());
  EXPECT_EQ(client.OpenSession({}, nullptr).status().code(),
            absl::StatusCode::kUnauthenticated);
}

// The refusal tag crosses a real socket, and the agent is told "revoked",
// not "its user may not connect" (both are PERMISSION_DENIED).
TEST_F(GrpcBrokerClientTest, RevokedRefusalReachesTheAgentAsRevoked) {
  service_.revoked_ = true;
  GrpcBrokerClient client(Options());
  absl::Status refused = client.OpenSession({}, nullptr).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(RefusalOf(refused), Refusal::kRevoked);
  std::string text = BrokerErrorResult(refused, socket_)["content"][0]["text"];
  EXPECT_NE(text.find("access was revoked by an operator"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("may not connect"), std::string::npos) << text;
  EXPECT_NE(text.find("(REVOKED)"), std::string::npos) << text;
}

TEST_F(GrpcBrokerClientTest, NoBrokerIsUnavailableQuickly) {
  GrpcBrokerClientOptions options = Options();
  options.socket_path = dir_ + "/absent.sock";
  GrpcBrokerClient client(options);
  auto start = Clock::now();
  EXPECT_EQ(client.ListCapabilities({}, nullptr).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
}

}  // namespace
}  // namespace latchkey::mcp
