// What the RequestExecutor unit tests share: an audit recorder that keeps
// what it is given, the smallest BrokerConfig they start from, and a
// fixture that builds the executor around a vault double.
#ifndef LATCHKEY_BROKER_TEST_DOUBLES_H_
#define LATCHKEY_BROKER_TEST_DOUBLES_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "broker/downstream_clients.h"
#include "broker/request_executor.h"
#include "common/crypto.h"
#include "gtest/gtest.h"
#include "proto/broker.pb.h"

namespace latchkey::broker::test_doubles {

// RecordingAudit keeps every event in order (not thread safe); Record
// answers `fail`, Reachable answers `reachable`.
class RecordingAudit final : public AuditRecorder {
 public:
  absl::Status Record(const v1::AuditEvent& event) override {
    events.push_back(event);
    return fail;
  }
  bool Reachable() override { return reachable; }
  std::vector<v1::AuditEvent> events;
  absl::Status fail;
  bool reachable = true;
};

// BotApiConfig: agent "bot" (token "token") and capability "api" (secret
// "secret", origin https://api.example.com) for "bot" alone, with one rule
// allowing `method` on `path`. Tests add agents, rules and limits to it.
inline v1::BrokerConfig BotApiConfig(const std::string& method,
                                     const std::string& path) {
  v1::BrokerConfig config;
  v1::Agent* agent = config.add_agents();
  agent->set_name("bot");
  agent->set_token_sha256(Sha256Hex("token"));
  v1::Capability* cap = config.add_capabilities();
  cap->set_name("api");
  cap->set_secret_id("secret");
  cap->set_origin("https://api.example.com");
  cap->add_agents("bot");
  v1::Rule* allow = cap->add_rules();
  allow->set_effect(v1::Rule::ALLOW);
  allow->add_methods(method);
  allow->set_path(path);
  return config;
}

// ExecutorFixture: a RequestExecutor over `config` with a `Vault` double
// and a RecordingAudit, a clock the test moves (now_), and a five-minute
// session of "bot" for "api" (session_).
template <typename Vault>
class ExecutorFixture : public ::testing::Test {
 protected:
  void StartExecutor(const v1::BrokerConfig& config) {
    state_ = std::make_unique<StateHolder>(*BrokerState::Compile(config));
    sessions_ = std::make_unique<SessionRegistry>([this] { return now_; });
    executor_ = std::make_unique<RequestExecutor>(state_.get(), sessions_.get(),
                                                  &vault_, &audit_,
                                                  [this] { return now_; });
    bot_ = state_->Get()->FindAgentByToken("token");
    session_ = sessions_->Open("bot", {"api"}, absl::Minutes(5))->id();
  }

  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
  Vault vault_;
  RecordingAudit audit_;
  std::unique_ptr<StateHolder> state_;
  std::unique_ptr<SessionRegistry> sessions_;
  std::unique_ptr<RequestExecutor> executor_;
  const AgentIdentity* bot_ = nullptr;
  std::string session_;
};

}  // namespace latchkey::broker::test_doubles

#endif  // LATCHKEY_BROKER_TEST_DOUBLES_H_
