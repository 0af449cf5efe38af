// FakeBrokerClient is a scripted BrokerClient for tests: each RPC answers
// from a queue (or a default), and every request is recorded.
#ifndef LATCHKEY_MCP_ADAPTER_FAKE_BROKER_CLIENT_H_
#define LATCHKEY_MCP_ADAPTER_FAKE_BROKER_CLIENT_H_

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "mcp_adapter/broker_client.h"

namespace latchkey::mcp {

class FakeBrokerClient : public BrokerClient {
 public:
  // Answers, consumed front first; when a queue is empty the default is
  // used (sessions: "s-<n>" ids valid for an hour from `now`).
  std::deque<absl::StatusOr<v1::Session>> sessions;
  std::deque<absl::StatusOr<v1::ListCapabilitiesResponse>> capabilities;
  std::deque<absl::StatusOr<v1::ExecuteResponse>> executes;
  // execute_hook, when set, runs inside Execute before answering (for
  // blocking or observing cancellation).
  std::function<void(const v1::ExecuteRequest&, Cancellation*)> execute_hook;
  int64_t now_unix = 1'700'000'000;

  // Recorded requests.
  std::vector<v1::OpenSessionRequest> open_requests;
  std::vector<v1::ExecuteRequest> execute_requests;
  int list_calls = 0;

  absl::StatusOr<v1::Session> OpenSession(const v1::OpenSessionRequest& request,
                                          Cancellation*) override {
    std::lock_guard<std::mutex> lock(mu_);
    open_requests.push_back(request);
    if (!sessions.empty()) {
      auto answer = sessions.front();
      sessions.pop_front();
      return answer;
    }
    v1::Session session;
    session.set_id("5e55" + std::to_string(open_requests.size()) +
                   "00112233445566778899aabbccddeeff");
    session.set_agent("test-agent");
    session.add_capabilities("github");
    session.mutable_expire_time()->set_seconds(now_unix + 3600);
    return session;
  }

  absl::StatusOr<v1::ListCapabilitiesResponse> ListCapabilities(
      const v1::ListCapabilitiesRequest&, Cancellation*) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++list_calls;
    if (!capabilities.empty()) {
      auto answer = capabilities.front();
      capabilities.pop_front();
      return answer;
    }
    return v1::ListCapabilitiesResponse();
  }

  absl::StatusOr<v1::ExecuteResponse> Execute(const v1::ExecuteRequest& request,
                                              Cancellation* cancel) override {
    std::function<void(const v1::ExecuteRequest&, Cancellation*)> hook;
    {
      std::lock_guard<std::mutex> lock(mu_);
      execute_requests.push_back(request);
      hook = execute_hook;
    }
    if (hook) hook(request, cancel);
    if (cancel != nullptr && cancel->IsCancelled()) {
      return absl::CancelledError("cancelled");
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (!executes.empty()) {
      auto answer = executes.front();
      executes.pop_front();
      return answer;
    }
    return absl::UnavailableError("no scripted answer");
  }

  // OpenExecuteStream plays the scripted Execute answers over the stream
  // protocol: a scripted denial or error is the decision (recorded with
  // the head only); otherwise the decision is ALLOW and Execute is called
  // with the whole body once the client half-closes, its answer then sent
  // as head, one body chunk and the end.
  absl::StatusOr<std::unique_ptr<BrokerStream>> OpenExecuteStream() override {
    return std::make_unique<Stream>(this);
  }

  // Introspection answers: the last request is recorded, the answer is
  // the field below (UNAVAILABLE when unset).
  std::optional<absl::StatusOr<v1::WhoAmIResponse>> whoami;
  std::optional<absl::StatusOr<v1::ExplainResponse>> explain;
  std::optional<absl::StatusOr<v1::TestCapabilityResponse>> test;
  v1::WhoAmIRequest last_whoami;
  v1::ExplainRequest last_explain;
  v1::TestCapabilityRequest last_test;

  absl::StatusOr<v1::WhoAmIResponse> WhoAmI(const v1::WhoAmIRequest& request,
                                            Cancellation*) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_whoami = request;
    if (whoami.has_value()) return *whoami;
    return absl::UnavailableError("no scripted answer");
  }
  absl::StatusOr<v1::ExplainResponse> ExplainAccess(
      const v1::ExplainRequest& request, Cancellation*) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_explain = request;
    if (explain.has_value()) return *explain;
    return absl::UnavailableError("no scripted answer");
  }
  absl::StatusOr<v1::TestCapabilityResponse> TestCapability(
      const v1::TestCapabilityRequest& request, Cancellation*) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_test = request;
    if (test.has_value()) return *test;
    return absl::UnavailableError("no scripted answer");
  }

 private:
  class Stream : public BrokerStream {
   public:
    explicit Stream(FakeBrokerClient* fake) : fake_(fake) {}
    bool Write(const v1::ExecuteStreamRequest& message) override {
      if (message.has_head()) {
        request_ = message.head();
      } else {
        request_.mutable_request()->mutable_body()->append(
            message.body_chunk());
      }
      return status_.ok();
    }
    bool WritesDone() override {
      absl::StatusOr<v1::ExecuteResponse> answer =
          fake_->Execute(request_, nullptr);
      if (!answer.ok()) {
        status_ = answer.status();
        return false;
      }
      v1::ExecuteStreamReply head;
      *head.mutable_head() = *answer;
      head.mutable_head()->mutable_response()->clear_body();
      replies_.push_back(head);
      if (answer->decision() == v1::DECISION_ALLOW) {
        v1::ExecuteStreamReply body;
        body.set_body_chunk(answer->response().body());
        replies_.push_back(body);
        v1::ExecuteStreamReply end;
        end.mutable_end()->set_body_bytes(answer->response().body().size());
        replies_.push_back(end);
      }
      return true;
    }
    bool Read(v1::ExecuteStreamReply* message) override {
      if (!decided_) {
        decided_ = true;
        absl::StatusOr<v1::ExecuteResponse> early =
            fake_->PeekRefusal(request_);
        if (!early.ok()) {
          status_ = early.status();
          return false;
        }
        *message->mutable_decision() = *early;
        return true;
      }
      if (replies_.empty()) return false;
      *message = replies_.front();
      replies_.pop_front();
      return true;
    }
    absl::Status Finish() override { return status_; }
    void Cancel() override { status_ = absl::CancelledError("cancelled"); }

   private:
    FakeBrokerClient* fake_;
    v1::ExecuteRequest request_;
    bool decided_ = false;
    absl::Status status_;
    std::deque<v1::ExecuteStreamReply> replies_;
  };

  // PeekRefusal: the next scripted answer if it is a denial or an error
  // (consumed and recorded), else an ALLOW decision (nothing consumed).
  absl::StatusOr<v1::ExecuteResponse> PeekRefusal(
      const v1::ExecuteRequest& head) {
    bool refusal = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      refusal = !executes.empty() &&
                (!executes.front().ok() ||
                 executes.front()->decision() != v1::DECISION_ALLOW);
    }
    if (refusal) return Execute(head, nullptr);
    v1::ExecuteResponse allowed;
    allowed.set_decision(v1::DECISION_ALLOW);
    return allowed;
  }

  std::mutex mu_;
};

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_FAKE_BROKER_CLIENT_H_
