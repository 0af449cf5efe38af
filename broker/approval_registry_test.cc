// ApprovalRegistry on its own: concurrent asks, polls and decisions stay
// consistent (run with --config=tsan), and a decision is exactly one
// transition.
#include "broker/approval_registry.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace latchkey::broker {
namespace {

ApprovalAsk Ask(const std::string& agent, const std::string& path) {
  ApprovalAsk ask;
  ask.agent = agent;
  ask.session_id = "session-" + agent;
  ask.capability = "pay";
  ask.method = "POST";
  ask.path = path;
  ask.mode = v1::APPROVAL_MODE_EVERY_REQUEST;
  ask.timeout = absl::Minutes(5);
  return ask;
}

TEST(ApprovalRegistryTest, ConcurrentAsksAndDecisionsAreConsistent) {
  auto registry = *ApprovalRegistry::Open("");
  constexpr int kAgents = 4;
  constexpr int kAsksPerAgent = 12;  // below the per-agent cap
  std::atomic<int> decided_count{0};
  std::atomic<int> refused{0};  // lost races, harmless
  std::atomic<bool> asking{true};
  std::vector<std::thread> threads;
  for (int a = 0; a < kAgents; ++a) {
    threads.emplace_back([&, a] {
      for (int i = 0; i < kAsksPerAgent; ++i) {
        ApprovalGate gate = registry->Check(
            Ask("agent" + std::to_string(a), "/p/" + std::to_string(i)));
        EXPECT_EQ(gate.code, v1::REASON_APPROVAL_PENDING);
      }
    });
  }
  // An operator decides whatever is pending while agents keep asking; two
  // operators race on the same approvals: each is decided exactly once.
  for (int op = 0; op < 2; ++op) {
    threads.emplace_back([&, op] {
      for (int round = 0; round < 200; ++round) {
        for (const v1::Approval& a : registry->List("", true)) {
          auto decided = registry->Decide(a.id(), op == 0, 1000 + op);
          if (decided.ok()) {
            ++decided_count;
          } else {
            EXPECT_EQ(decided.status().code(),
                      absl::StatusCode::kFailedPrecondition);
            ++refused;
          }
        }
        if (!asking && registry->List("", true).empty()) break;
      }
    });
  }
  for (int a = 0; a < kAgents; ++a) threads[a].join();
  asking = false;
  for (size_t t = kAgents; t < threads.size(); ++t) threads[t].join();
  for (const v1::Approval& a : registry->List("", true)) {
    ASSERT_TRUE(registry->Decide(a.id(), true, 1).ok());
    ++decided_count;
  }
  EXPECT_EQ(decided_count.load(), kAgents * kAsksPerAgent);
  EXPECT_EQ(registry->List("", false).size(),
            static_cast<size_t>(kAgents * kAsksPerAgent));
  EXPECT_TRUE(registry->List("", true).empty());
}

TEST(ApprovalRegistryTest, UnknownIdIsNotFound) {
  auto registry = *ApprovalRegistry::Open("");
  EXPECT_EQ(registry->Decide("nope", true, 0).status().code(),
            absl::StatusCode::kNotFound);
  ApprovalAsk ask = Ask("a", "/x");
  ask.approval_id = "nope";
  EXPECT_EQ(registry->Check(ask).code, v1::REASON_APPROVAL_NOT_FOUND);
}

}  // namespace
}  // namespace latchkey::broker
