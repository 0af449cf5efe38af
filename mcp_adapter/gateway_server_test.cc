// GatewayServer over real loopback HTTP (cpp-httplib client) with the
// scripted broker: admission, session reuse across concurrent requests,
// the expired-session retry, status mapping on the wire and the body
// limit. Cross-process behaviour is in //tests:gateway_e2e_test.
#include "mcp_adapter/gateway_server.h"

#include <httplib.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "common/limits.h"
#include "gtest/gtest.h"
#include "mcp_adapter/fake_broker_client.h"

namespace latchkey::mcp {
namespace {

constexpr char kToken[] = "gw_unit_0123456789abcdef";

v1::ExecuteResponse Allowed(const std::string &body) {
  v1::ExecuteResponse response;
  response.set_decision(v1::DECISION_ALLOW);
  response.set_request_id("req");
  response.mutable_response()->set_status(200);
  response.mutable_response()->set_body(body);
  return response;
}

class GatewayServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_.now_unix = absl::ToUnixSeconds(absl::Now());
    GatewayOptions options;
    options.address = {"127.0.0.1", 0};
    options.token = kToken;
    options.broker_socket = "/run/test/broker.sock";
    server_ = std::make_unique<GatewayServer>(&broker_, options);
    auto port = server_->Start();
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_bearer_token_auth(kToken);
    client_->set_read_timeout(std::chrono::seconds(10));
  }
  void TearDown() override {
    client_.reset();
    server_.reset();
  }

  FakeBrokerClient broker_;
  int port_ = 0;
  std::unique_ptr<GatewayServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(GatewayServerTest, RefusesWithoutTokenBeforeAskingTheBroker) {
  httplib::Client anonymous("127.0.0.1", port_);
  httplib::Headers wrong = {{"Authorization", "Bearer nope"}};
  auto response = anonymous.Get("/github/user", wrong);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 401);
  EXPECT_EQ(response->get_header_value("WWW-Authenticate"),
            "Basic realm=\"latchkey-gateway\"");
  EXPECT_TRUE(broker_.execute_requests.empty());
  EXPECT_TRUE(broker_.open_requests.empty());
}

TEST_F(GatewayServerTest, ConcurrentRequestsShareOneSession) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 10;
  for (int i = 0; i < kThreads * kPerThread; ++i) {
    broker_.executes.push_back(Allowed("ok"));
  }
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      httplib::Client client("127.0.0.1", port_);
      client.set_bearer_token_auth(kToken);
      for (int i = 0; i < kPerThread; ++i) {
        auto response = client.Post("/github/repos/o/r/issues?x=1", "body",
                                    "application/json");
        if (response && response->status == 200 && response->body == "ok") {
          ++ok;
        }
      }
    });
  }
  for (auto &thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_EQ(broker_.open_requests.size(), 1u);
  ASSERT_EQ(broker_.execute_requests.size(), size_t{kThreads * kPerThread});
  const v1::ExecuteRequest &first = broker_.execute_requests[0];
  EXPECT_EQ(first.capability(), "github");
  EXPECT_EQ(first.request().path(), "/repos/o/r/issues");
  EXPECT_EQ(first.request().body(), "body");
  EXPECT_FALSE(first.session_id().empty());
  for (const auto &header : first.request().headers()) {
    EXPECT_NE(header.name(), "Authorization");
  }
}

TEST_F(GatewayServerTest, ExpiredSessionIsReopenedAndRetriedOnce) {
  v1::ExecuteResponse expired;
  expired.set_decision(v1::DECISION_DENY);
  expired.mutable_denial()->set_code(v1::REASON_SESSION_EXPIRED);
  broker_.executes.push_back(expired);
  broker_.executes.push_back(Allowed("second try"));
  auto response = client_->Get("/github/user");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "second try");
  EXPECT_EQ(broker_.open_requests.size(), 2u);
}

TEST_F(GatewayServerTest, StatusMappingOnTheWire) {
  v1::ExecuteResponse limited;
  limited.set_decision(v1::DECISION_DENY);
  limited.mutable_denial()->set_code(v1::REASON_RATE_LIMITED);
  limited.mutable_denial()->mutable_retry_after()->set_seconds(7);
  broker_.executes.push_back(limited);
  auto response = client_->Get("/github/user");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 429);
  EXPECT_EQ(response->get_header_value("Retry-After"), "7");
  EXPECT_EQ(response->get_header_value("X-Latchkey-Reason"), "RATE_LIMITED");

  broker_.executes.push_back(absl::UnavailableError("broker down"));
  response = client_->Get("/github/user");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 503);

  response = client_->Get("/");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 404);
}

// GET bodies are read whole by cpp-httplib, so they are refused above the
// unary limit before a byte is read (other methods stream; their limit is
// the capability's, enforced by the broker: tests/gateway_stream_test).
TEST_F(GatewayServerTest, OversizedGetBodyIs413) {
  httplib::Headers headers = {
      {"Content-Length", std::to_string(kMaxRequestBodyBytes + 1)}};
  auto response = client_->Get("/github/x", headers);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413);
  EXPECT_TRUE(broker_.execute_requests.empty());
}

}  // namespace
}  // namespace latchkey::mcp
