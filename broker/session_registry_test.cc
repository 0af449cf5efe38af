#include "broker/session_registry.h"

#include <cstdlib>

#include "common/grpc_status.h"
#include "common/refusal.h"
#include "gtest/gtest.h"

namespace latchkey::broker {
namespace {

std::string TempDb(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = std::string(dir ? dir : "/tmp") + "/" + name + ".db";
  std::remove(path.c_str());
  std::remove((path + "-wal").c_str());
  std::remove((path + "-shm").c_str());
  return path;
}

class SessionRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ =
        TempDb(::testing::UnitTest::GetInstance()->current_test_info()->name());
    Reopen();
  }
  void Reopen() {
    registry_.reset();
    store_.reset();
    store_ = *BrokerStore::Open(path_);
    registry_ = std::make_unique<SessionRegistry>([this] { return now_; },
                                                  store_.get());
    ASSERT_TRUE(registry_->Load().ok());
  }
  std::string Open(const std::string& agent,
                   const std::vector<std::string>& caps,
                   absl::Duration ttl = absl::Minutes(10)) {
    absl::StatusOr<v1::Session> s = registry_->Open(agent, caps, ttl);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? s->id() : "";
  }
  v1::ReasonCode Code(const std::string& id, const std::string& agent,
                      const std::string& cap) {
    SessionCheck c = registry_->Check(id, agent, cap);
    return c.ok ? v1::REASON_ALLOWED : c.code;
  }

  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
  std::string path_;
  std::unique_ptr<BrokerStore> store_;
  std::unique_ptr<SessionRegistry> registry_;
};

TEST_F(SessionRegistryTest, ExpiresExactlyAtTtlWithInjectedClock) {
  std::string id = Open("bot", {"api"}, absl::Minutes(5));
  now_ += absl::Minutes(5) - absl::Nanoseconds(1);
  EXPECT_EQ(Code(id, "bot", "api"), v1::REASON_ALLOWED);
  now_ += absl::Nanoseconds(1);
  EXPECT_EQ(Code(id, "bot", "api"), v1::REASON_SESSION_EXPIRED);
}

TEST_F(SessionRegistryTest, OtherAgentsSessionLooksUnknown) {
  std::string id = Open("bot", {"api"});
  EXPECT_EQ(Code(id, "eve", "api"), v1::REASON_SESSION_NOT_FOUND);
  EXPECT_EQ(Code(id, "bot", "other"), v1::REASON_SESSION_NOT_FOUND);
}

TEST_F(SessionRegistryTest, RevokeAgentCutsOffAndBlocksUntilLifted) {
  std::string a = Open("bot", {"api"});
  std::string b = Open("other", {"api"});
  absl::StatusOr<v1::RevokeResponse> r = registry_->RevokeAgent("bot");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->sessions_revoked(), 1u);
  EXPECT_EQ(Code(a, "bot", "api"), v1::REASON_SESSION_REVOKED);
  EXPECT_EQ(Code(b, "other", "api"), v1::REASON_ALLOWED);
  EXPECT_EQ(registry_->Open("bot", {"api"}, absl::Minutes(1)).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(registry_->Refusal("bot", "api").has_value());
  ASSERT_TRUE(*registry_->Lift(v1::Revocation::AGENT, "bot"));
  EXPECT_FALSE(*registry_->Lift(v1::Revocation::AGENT, "bot"));
  std::string c = Open("bot", {"api"});
  EXPECT_EQ(Code(c, "bot", "api"), v1::REASON_ALLOWED);
  // Lifting never revives a session that was cut off.
  EXPECT_EQ(Code(a, "bot", "api"), v1::REASON_SESSION_REVOKED);
  EXPECT_EQ(registry_->Find(a)->revoked_by(), "agent:bot");
}

TEST_F(SessionRegistryTest, RevokeCapabilityOnlyAffectsThatCapability) {
  std::string id = Open("bot", {"api", "docs"});
  ASSERT_TRUE(registry_->RevokeCapability("api").ok());
  EXPECT_EQ(Code(id, "bot", "api"), v1::REASON_SESSION_REVOKED);
  EXPECT_EQ(Code(id, "bot", "docs"), v1::REASON_ALLOWED);
  EXPECT_FALSE(registry_->Find(id)->revoked());
  EXPECT_EQ(registry_->Open("bot", {"api"}, absl::Minutes(1)).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(SessionRegistryTest, RevokeAllIsAKillSwitch) {
  std::string a = Open("bot", {"api"});
  std::string b = Open("other", {"docs"});
  absl::StatusOr<v1::RevokeResponse> r = registry_->RevokeAll();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->sessions_revoked(), 2u);
  EXPECT_EQ(Code(a, "bot", "api"), v1::REASON_SESSION_REVOKED);
  EXPECT_EQ(Code(b, "other", "docs"), v1::REASON_SESSION_REVOKED);
  absl::StatusOr<v1::Session> refused =
      registry_->Open("x", {"y"}, absl::Minutes(1));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  // Tagged, so that clients say "revoked", not "your user may not connect".
  EXPECT_EQ(RefusalOf(refused.status()), Refusal::kRevoked);
  EXPECT_EQ(RefusalOf(FromGrpcStatus(ToGrpcStatus(refused.status()))),
            Refusal::kRevoked);
  ASSERT_TRUE(*registry_->Lift(v1::Revocation::ALL, ""));
  EXPECT_EQ(Code(Open("bot", {"api"}), "bot", "api"), v1::REASON_ALLOWED);
}

TEST_F(SessionRegistryTest, CutOffDoesNotBlockNewSessions) {
  std::string a = Open("bot", {"api"});
  ASSERT_TRUE(registry_->CutOff(v1::Revocation::AGENT, "bot").ok());
  EXPECT_EQ(Code(a, "bot", "api"), v1::REASON_SESSION_REVOKED);
  EXPECT_EQ(Code(Open("bot", {"api"}), "bot", "api"), v1::REASON_ALLOWED);
}

TEST_F(SessionRegistryTest, RevocationsSurviveReload) {
  std::string revoked = Open("bot", {"api"});
  std::string agent_cut = Open("eve", {"api"});
  std::string cap_cut = Open("carol", {"files"});
  std::string fine = Open("carol", {"api"});
  ASSERT_TRUE(*registry_->Revoke(revoked));
  ASSERT_TRUE(registry_->RevokeAgent("eve").ok());
  ASSERT_TRUE(registry_->RevokeCapability("files").ok());
  ASSERT_TRUE(*registry_->Lift(v1::Revocation::CAPABILITY, "files"));
  Reopen();
  EXPECT_EQ(Code(revoked, "bot", "api"), v1::REASON_SESSION_REVOKED);
  EXPECT_EQ(Code(agent_cut, "eve", "api"), v1::REASON_SESSION_REVOKED);
  EXPECT_EQ(Code(cap_cut, "carol", "files"), v1::REASON_SESSION_REVOKED);
  EXPECT_EQ(Code(fine, "carol", "api"), v1::REASON_ALLOWED);
  EXPECT_FALSE(registry_->Open("eve", {"api"}, absl::Minutes(1)).ok());
  EXPECT_EQ(Code(Open("carol", {"files"}), "carol", "files"),
            v1::REASON_ALLOWED);
  // A revocation after the reload still cuts off sessions from before it.
  ASSERT_TRUE(registry_->RevokeAll().ok());
  EXPECT_EQ(Code(fine, "carol", "api"), v1::REASON_SESSION_REVOKED);
  EXPECT_EQ(registry_->ListRevocations().size(), 3u);
}

TEST_F(SessionRegistryTest, ExpiredSessionsAreForgottenOnReload) {
  std::string id = Open("bot", {"api"}, absl::Minutes(1));
  now_ += absl::Minutes(1) + SessionRegistry::kKeepExpired + absl::Seconds(1);
  Reopen();
  EXPECT_EQ(Code(id, "bot", "api"), v1::REASON_SESSION_NOT_FOUND);
  EXPECT_TRUE(registry_->List().empty());
}

}  // namespace
}  // namespace latchkey::broker
