#include "mcp_adapter/session_keeper.h"

#include <future>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "mcp_adapter/fake_broker_client.h"

namespace latchkey::mcp {
namespace {

v1::ExecuteResponse Deny(v1::ReasonCode code) {
  v1::ExecuteResponse response;
  response.set_decision(v1::DECISION_DENY);
  response.mutable_denial()->set_code(code);
  return response;
}

v1::ExecuteResponse Allow() {
  v1::ExecuteResponse response;
  response.set_decision(v1::DECISION_ALLOW);
  response.mutable_response()->set_status(200);
  return response;
}

class SessionKeeperTest : public ::testing::Test {
 protected:
  SessionKeeperTest()
      : keeper_(
            &broker_, [this] { return now_; },
            [this](SessionEvent event, const SessionInfo&) {
              events_.push_back(event);
            }) {}

  v1::ExecuteRequest Request() {
    v1::ExecuteRequest request;
    request.set_capability("github");
    request.mutable_request()->set_method("GET");
    request.mutable_request()->set_path("/x");
    return request;
  }

  FakeBrokerClient broker_;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
  std::vector<SessionEvent> events_;
  SessionKeeper keeper_;
};

TEST_F(SessionKeeperTest, OpensLazilyOnceForAllCapabilities) {
  EXPECT_FALSE(keeper_.Peek().has_value());
  EXPECT_TRUE(broker_.open_requests.empty());
  broker_.executes = {Allow(), Allow()};
  ASSERT_TRUE(keeper_.Execute(Request(), nullptr).ok());
  ASSERT_TRUE(keeper_.Execute(Request(), nullptr).ok());
  ASSERT_EQ(broker_.open_requests.size(), 1u);
  EXPECT_EQ(broker_.open_requests[0].capabilities_size(), 0);
  EXPECT_FALSE(broker_.open_requests[0].has_ttl());
  ASSERT_EQ(broker_.execute_requests.size(), 2u);
  EXPECT_EQ(broker_.execute_requests[0].session_id(), keeper_.Peek()->id);
  EXPECT_EQ(broker_.execute_requests[1].session_id(), keeper_.Peek()->id);
  EXPECT_EQ(events_, std::vector<SessionEvent>{SessionEvent::kOpened});
}

TEST_F(SessionKeeperTest, ReopensOnceOnExpiredOrUnknown) {
  for (v1::ReasonCode code :
       {v1::REASON_SESSION_EXPIRED, v1::REASON_SESSION_NOT_FOUND}) {
    FakeBrokerClient broker;
    SessionKeeper keeper(&broker, [this] { return now_; });
    broker.executes = {Deny(code), Allow()};
    auto response = keeper.Execute(Request(), nullptr);
    ASSERT_TRUE(response.ok());
    EXPECT_EQ(response->decision(), v1::DECISION_ALLOW);
    EXPECT_EQ(broker.open_requests.size(), 2u);
    ASSERT_EQ(broker.execute_requests.size(), 2u);
    EXPECT_NE(broker.execute_requests[0].session_id(),
              broker.execute_requests[1].session_id());
    EXPECT_EQ(broker.execute_requests[1].session_id(), keeper.Peek()->id);
    EXPECT_EQ(broker.execute_requests[1].capability(), "github");
  }
}

TEST_F(SessionKeeperTest, RetriesOnlyOnce) {
  broker_.executes = {Deny(v1::REASON_SESSION_EXPIRED),
                      Deny(v1::REASON_SESSION_EXPIRED)};
  auto response = keeper_.Execute(Request(), nullptr);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->denial().code(), v1::REASON_SESSION_EXPIRED);
  EXPECT_EQ(broker_.execute_requests.size(), 2u);
  EXPECT_EQ(broker_.open_requests.size(), 2u);
}

TEST_F(SessionKeeperTest, RevokedIsNeverReplaced) {
  broker_.executes = {Deny(v1::REASON_SESSION_REVOKED),
                      Deny(v1::REASON_SESSION_EXPIRED),
                      Deny(v1::REASON_SESSION_NOT_FOUND)};
  auto first = keeper_.Execute(Request(), nullptr);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->denial().code(), v1::REASON_SESSION_REVOKED);
  EXPECT_TRUE(keeper_.Peek()->revoked);
  // Even when the broker later calls it expired or unknown, and even past
  // its local expiry, no new session is opened.
  now_ += absl::Hours(2);
  EXPECT_EQ(keeper_.Execute(Request(), nullptr)->denial().code(),
            v1::REASON_SESSION_EXPIRED);
  EXPECT_EQ(keeper_.Execute(Request(), nullptr)->denial().code(),
            v1::REASON_SESSION_NOT_FOUND);
  auto current = keeper_.Current(nullptr);
  ASSERT_TRUE(current.ok());
  EXPECT_TRUE(current->revoked);
  EXPECT_EQ(broker_.open_requests.size(), 1u);
  EXPECT_EQ(broker_.execute_requests.size(), 3u);
  EXPECT_EQ(events_, (std::vector<SessionEvent>{SessionEvent::kOpened,
                                                SessionEvent::kRevoked}));
}

TEST_F(SessionKeeperTest, RevokedAfterReopenIsReported) {
  broker_.executes = {Deny(v1::REASON_SESSION_EXPIRED),
                      Deny(v1::REASON_SESSION_REVOKED)};
  EXPECT_EQ(keeper_.Execute(Request(), nullptr)->denial().code(),
            v1::REASON_SESSION_REVOKED);
  EXPECT_TRUE(keeper_.Peek()->revoked);
}

TEST_F(SessionKeeperTest, LocallyExpiredSessionIsReplacedBeforeUse) {
  ASSERT_TRUE(keeper_.Current(nullptr).ok());
  std::string first = keeper_.Peek()->id;
  now_ += absl::Hours(1);  // The fake's sessions last exactly an hour.
  auto current = keeper_.Current(nullptr);
  ASSERT_TRUE(current.ok());
  EXPECT_NE(current->id, first);
  EXPECT_EQ(events_, (std::vector<SessionEvent>{SessionEvent::kOpened,
                                                SessionEvent::kReopened}));
}

TEST_F(SessionKeeperTest, OpenFailureIsReturnedAndRetriedNextTime) {
  broker_.sessions.push_back(absl::UnavailableError("down"));
  auto failed = keeper_.Execute(Request(), nullptr);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(broker_.execute_requests.empty());
  broker_.executes = {Allow()};
  EXPECT_TRUE(keeper_.Execute(Request(), nullptr).ok());
}

TEST_F(SessionKeeperTest, SessionWithoutIdIsAnError) {
  broker_.sessions.push_back(v1::Session());
  EXPECT_FALSE(keeper_.Current(nullptr).ok());
  EXPECT_FALSE(keeper_.Peek().has_value());
}

TEST_F(SessionKeeperTest, BrokerErrorsPassThroughWithoutRetry) {
  broker_.executes = {absl::UnauthenticatedError("token")};
  EXPECT_EQ(keeper_.Execute(Request(), nullptr).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(broker_.execute_requests.size(), 1u);
  EXPECT_EQ(broker_.open_requests.size(), 1u);
}

// ExpiringBroker refuses one session id as expired and allows the rest.
class ExpiringBroker : public FakeBrokerClient {
 public:
  explicit ExpiringBroker(std::string expired) : expired_(std::move(expired)) {}
  absl::StatusOr<v1::ExecuteResponse> Execute(const v1::ExecuteRequest& request,
                                              Cancellation*) override {
    if (request.session_id() == expired_) {
      return Deny(v1::REASON_SESSION_EXPIRED);
    }
    return Allow();
  }

 private:
  const std::string expired_;
};

TEST_F(SessionKeeperTest, ConcurrentExpiryOpensOneNewSession) {
  constexpr int kCalls = 8;
  ExpiringBroker broker("5e55100112233445566778899aabbccddeeff");
  SessionKeeper keeper(&broker, [this] { return now_; });
  ASSERT_EQ(keeper.Current(nullptr)->id,
            "5e55100112233445566778899aabbccddeeff");
  std::vector<std::future<bool>> calls;
  for (int i = 0; i < kCalls; ++i) {
    calls.push_back(std::async(std::launch::async, [&] {
      auto response = keeper.Execute(Request(), nullptr);
      return response.ok() && response->decision() == v1::DECISION_ALLOW;
    }));
  }
  for (auto& call : calls) EXPECT_TRUE(call.get());
  EXPECT_EQ(broker.open_requests.size(), 2u);
}

}  // namespace
}  // namespace latchkey::mcp
