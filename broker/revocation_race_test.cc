// Revocation under concurrent load: many threads execute requests while
// another revokes; no request whose check started after the revoke call
// returned may be allowed (or reach the vault). Run it under TSan too:
//   bazel test --config=tsan //broker:revocation_race_test
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "broker/request_executor.h"
#include "broker/test_doubles.h"
#include "common/crypto.h"
#include "gtest/gtest.h"

namespace latchkey::broker {
namespace {

// Set once a revoke call has returned.
std::atomic<bool> g_revoked{false};

class CountingVault final : public VaultEgressClient {
 public:
  absl::StatusOr<v1::VaultExecuteResponse> Execute(
      const v1::VaultExecuteRequest&) override {
    calls++;
    v1::VaultExecuteResponse response;
    response.mutable_response()->set_status(200);
    return response;
  }
  std::atomic<int> calls{0};
};

class CountingAudit final : public AuditRecorder {
 public:
  absl::Status Record(const v1::AuditEvent&) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++records_;
    return absl::OkStatus();
  }
  bool Reachable() override { return true; }
  int records() {
    std::lock_guard<std::mutex> lock(mu_);
    return records_;
  }

 private:
  std::mutex mu_;
  int records_ = 0;
};

enum class Kind { kSession, kAgent, kCapability, kAll };

class RevocationRaceTest : public ::testing::TestWithParam<Kind> {};

TEST_P(RevocationRaceTest, NothingCheckedAfterTheRevokeReturnedIsAllowed) {
  g_revoked = false;
  v1::BrokerConfig config = test_doubles::BotApiConfig("GET", "/**");
  StateHolder state(*BrokerState::Compile(config));
  // A real store, so the revoke includes its fsync'd write.
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string db = std::string(tmp ? tmp : "/tmp") + "/race-" +
                   std::to_string(static_cast<int>(GetParam())) + ".db";
  std::remove(db.c_str());
  std::unique_ptr<BrokerStore> store = *BrokerStore::Open(db);
  SessionRegistry sessions(absl::Now, store.get());
  CountingVault vault;
  CountingAudit audit;
  RateLimiter limiter;
  RequestExecutor executor(&state, &sessions, &vault, &audit, absl::Now,
                           &limiter);
  const AgentIdentity* bot = state.Get()->FindAgentByToken("token");
  std::string session = sessions.Open("bot", {"api"}, absl::Hours(1))->id();

  constexpr int kThreads = 8;
  std::atomic<bool> stop{false};
  std::atomic<int> allowed_before{0}, denied_after{0}, violations{0};
  std::atomic<int> total{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      v1::ExecuteRequest request;
      request.set_session_id(session);
      request.set_capability("api");
      request.mutable_request()->set_method("GET");
      request.mutable_request()->set_path("/v1/items");
      while (!stop.load()) {
        bool started_after_revoke = g_revoked.load();
        v1::ExecuteResponse response = executor.Execute({bot, 1000}, request);
        total++;
        bool allowed = response.decision() == v1::DECISION_ALLOW;
        if (started_after_revoke) {
          if (allowed) violations++;
          if (response.denial().code() == v1::REASON_SESSION_REVOKED) {
            denied_after++;
          }
        } else if (allowed) {
          allowed_before++;
        }
      }
    });
  }
  // Let the load run, then revoke in the middle of it.
  while (allowed_before.load() < 200) std::this_thread::yield();
  switch (GetParam()) {
    case Kind::kSession:
      ASSERT_TRUE(*sessions.Revoke(session));
      break;
    case Kind::kAgent:
      ASSERT_TRUE(sessions.RevokeAgent("bot").ok());
      break;
    case Kind::kCapability:
      ASSERT_TRUE(sessions.RevokeCapability("api").ok());
      break;
    case Kind::kAll:
      ASSERT_TRUE(sessions.RevokeAll().ok());
      break;
  }
  g_revoked = true;
  int vault_calls_at_revoke = vault.calls.load();
  while (denied_after.load() < 200) std::this_thread::yield();
  stop = true;
  for (std::thread& t : threads) t.join();

  EXPECT_EQ(violations.load(), 0);
  EXPECT_GT(allowed_before.load(), 0);
  EXPECT_GE(denied_after.load(), 200);
  // In-flight requests that passed their check before the revoke may still
  // reach the vault, at most one per thread.
  EXPECT_LE(vault.calls.load() - vault_calls_at_revoke, kThreads);
  // Exactly one audit record per decision, and one intent record per
  // request handed to the vault.
  EXPECT_EQ(audit.records(), total.load() + vault.calls.load());
}

INSTANTIATE_TEST_SUITE_P(AllKinds, RevocationRaceTest,
                         ::testing::Values(Kind::kSession, Kind::kAgent,
                                           Kind::kCapability, Kind::kAll));

}  // namespace
}  // namespace latchkey::broker
