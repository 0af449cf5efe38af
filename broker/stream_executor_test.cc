// RequestExecutor::ExecuteStream with in-memory streams on both sides: the
// order of messages, the limits, and that the decision is audited before
// any byte of the answer is passed on. (End to end, with the real vault
// and real tools: tests/gateway_stream_test.cc.)
#include <deque>
#include <memory>
#include <vector>

#include "broker/request_executor.h"
#include "broker/test_doubles.h"
#include "common/crypto.h"
#include "gtest/gtest.h"

namespace latchkey::broker {
namespace {

using test_doubles::RecordingAudit;

// The agent's side: scripted messages in, replies recorded.
class ScriptedAgent final : public RequestExecutor::AgentStream {
 public:
  void SendInitialMetadata() override {}
  bool Write(const v1::ExecuteStreamReply &message,
             grpc::WriteOptions) override {
    replies.push_back(message);
    return true;
  }
  bool NextMessageSize(uint32_t *size) override {
    *size = 1 << 20;
    return !incoming.empty();
  }
  bool Read(v1::ExecuteStreamRequest *message) override {
    if (incoming.empty()) return false;
    *message = incoming.front();
    incoming.pop_front();
    return true;
  }
  std::deque<v1::ExecuteStreamRequest> incoming;
  std::vector<v1::ExecuteStreamReply> replies;
};

// The vault's side: records what it is sent, answers from a script.
class ScriptedVaultStream final : public VaultStream {
 public:
  bool Write(const v1::VaultStreamRequest &message) override {
    sent->push_back(message);
    return true;
  }
  bool WritesDone() override {
    *writes_done = true;
    return true;
  }
  bool Read(v1::VaultStreamReply *message) override {
    if (replies.empty()) return false;
    *message = replies.front();
    replies.pop_front();
    return true;
  }
  absl::Status Finish() override { return absl::OkStatus(); }
  void Cancel() override { *cancelled = true; }
  std::deque<v1::VaultStreamReply> replies;
  std::vector<v1::VaultStreamRequest> *sent;
  bool *writes_done;
  bool *cancelled;
};

class StreamingVault final : public VaultEgressClient {
 public:
  absl::StatusOr<v1::VaultExecuteResponse> Execute(
      const v1::VaultExecuteRequest &) override {
    return absl::InternalError("unary call in a streaming test");
  }
  absl::StatusOr<std::unique_ptr<VaultStream>> OpenStream(
      absl::Duration) override {
    ++opened;
    auto stream = std::make_unique<ScriptedVaultStream>();
    stream->replies = replies;
    stream->sent = &sent;
    stream->writes_done = &writes_done;
    stream->cancelled = &cancelled;
    return stream;
  }
  int opened = 0;
  std::deque<v1::VaultStreamReply> replies;
  std::vector<v1::VaultStreamRequest> sent;
  bool writes_done = false;
  bool cancelled = false;
};

class StreamExecutorTest
    : public test_doubles::ExecutorFixture<StreamingVault> {
 protected:
  void SetUp() override {
    v1::BrokerConfig config = test_doubles::BotApiConfig("POST", "/v1/**");
    config.mutable_capabilities(0)->mutable_limits()->set_max_request_bytes(10);
    StartExecutor(config);

    v1::VaultStreamReply head;
    head.mutable_head()->mutable_response()->set_status(200);
    vault_.replies.push_back(head);
    v1::VaultStreamReply chunk;
    chunk.set_body_chunk("answer");
    vault_.replies.push_back(chunk);
    v1::VaultStreamReply end;
    end.mutable_end()->set_body_bytes(6);
    end.mutable_end()->set_request_bytes(8);
    vault_.replies.push_back(end);
  }

  void Head(const std::string &path, std::optional<uint64_t> length) {
    v1::ExecuteStreamRequest head;
    head.mutable_head()->set_session_id(session_);
    head.mutable_head()->set_capability("api");
    head.mutable_head()->mutable_request()->set_method("POST");
    head.mutable_head()->mutable_request()->set_path(path);
    if (length.has_value()) head.set_content_length(*length);
    agent_.incoming.push_back(head);
  }
  void Body(const std::string &data) {
    v1::ExecuteStreamRequest chunk;
    chunk.set_body_chunk(data);
    agent_.incoming.push_back(chunk);
  }
  grpc::Status Run(bool cancelled = false) {
    return executor_->ExecuteStream({bot_, 1000}, &agent_,
                                    [cancelled] { return cancelled; });
  }

  ScriptedAgent agent_;
};

TEST_F(StreamExecutorTest, AllowedStreamRelaysInOrderAndAuditsTwice) {
  Head("/v1/x", 8);
  Body("abcd");
  Body("efgh");
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(agent_.replies.size(), 4u);
  EXPECT_EQ(agent_.replies[0].decision().decision(), v1::DECISION_ALLOW);
  EXPECT_EQ(agent_.replies[1].head().decision(), v1::DECISION_ALLOW);
  EXPECT_EQ(agent_.replies[1].head().response().status(), 200);
  EXPECT_EQ(agent_.replies[2].body_chunk(), "answer");
  EXPECT_EQ(agent_.replies[3].end().body_bytes(), 6u);
  // The vault got the head (with the normalized path and the length),
  // then the body, then the half-close.
  ASSERT_EQ(vault_.sent.size(), 3u);
  EXPECT_EQ(vault_.sent[0].head().path(), "/v1/x");
  EXPECT_EQ(vault_.sent[0].content_length(), 8u);
  EXPECT_EQ(vault_.sent[1].body_chunk() + vault_.sent[2].body_chunk(),
            "abcdefgh");
  EXPECT_TRUE(vault_.writes_done);
  // The decision, then how the stream ended.
  // The intent (before the vault was opened), the decision, then how the
  // stream ended.
  ASSERT_EQ(audit_.events.size(), 3u);
  EXPECT_EQ(audit_.events[0].source(), "intent");
  audit_.events.erase(audit_.events.begin());
  EXPECT_EQ(audit_.events[0].decision(), v1::DECISION_ALLOW);
  EXPECT_EQ(audit_.events[0].upstream_status(), 200);
  EXPECT_EQ(audit_.events[0].bytes_out(), 8);
  EXPECT_EQ(audit_.events[1].request_id(), audit_.events[0].request_id());
  EXPECT_EQ(audit_.events[1].bytes_in(), 6);
  EXPECT_EQ(audit_.events[0].source(), "broker");
  EXPECT_EQ(audit_.events[1].source(), "stream-end");
}

TEST_F(StreamExecutorTest, DeniedHeadNeverOpensTheVault) {
  Head("/v2/x", std::nullopt);
  Body("abcd");
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(agent_.replies.size(), 1u);
  EXPECT_EQ(agent_.replies[0].decision().decision(), v1::DECISION_DENY);
  EXPECT_EQ(vault_.opened, 0);
  ASSERT_EQ(audit_.events.size(), 1u);
}

TEST_F(StreamExecutorTest, DeclaredLengthOverTheLimitIsDeniedUpFront) {
  Head("/v1/x", 11);
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(agent_.replies.size(), 1u);
  EXPECT_EQ(agent_.replies[0].decision().denial().code(),
            v1::REASON_INVALID_REQUEST);
  EXPECT_EQ(vault_.opened, 0);
}

TEST_F(StreamExecutorTest, BodyOverTheLimitCancelsTheVaultCall) {
  Head("/v1/x", std::nullopt);
  Body("0123456789");
  Body("x");
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(agent_.replies.size(), 2u);
  EXPECT_EQ(agent_.replies[1].head().decision(), v1::DECISION_DENY);
  EXPECT_EQ(agent_.replies[1].head().denial().code(),
            v1::REASON_INVALID_REQUEST);
  EXPECT_TRUE(vault_.cancelled);
  EXPECT_FALSE(vault_.writes_done);
}

TEST_F(StreamExecutorTest, BodyShorterThanDeclaredIsNotSentAsComplete) {
  Head("/v1/x", 8);
  Body("abc");
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(agent_.replies.back().head().decision(), v1::DECISION_DENY);
  EXPECT_TRUE(vault_.cancelled);
  EXPECT_FALSE(vault_.writes_done);
}

TEST_F(StreamExecutorTest, CancelledUploadIsNeverCompleted) {
  Head("/v1/x", std::nullopt);
  Body("abc");
  ASSERT_TRUE(Run(/*cancelled=*/true).ok());
  EXPECT_TRUE(vault_.cancelled);
  EXPECT_FALSE(vault_.writes_done);
}

TEST_F(StreamExecutorTest, AuditFailureWithholdsTheAnswer) {
  audit_.fail = absl::UnavailableError("sink down");
  Head("/v1/x", std::nullopt);
  Body("abc");
  ASSERT_TRUE(Run().ok());
  // The intent could not be written: refused before the vault was opened.
  ASSERT_EQ(agent_.replies.size(), 1u);
  EXPECT_EQ(agent_.replies[0].decision().denial().code(),
            v1::REASON_AUDIT_UNAVAILABLE);
  EXPECT_TRUE(vault_.sent.empty());
}

TEST_F(StreamExecutorTest, StreamWithoutHeadIsRefused) {
  Body("abc");
  EXPECT_EQ(Run().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(audit_.events.empty());
}

}  // namespace
}  // namespace latchkey::broker
