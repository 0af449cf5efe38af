#include "broker/config_manager.h"

#include <cstdlib>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "gtest/gtest.h"

namespace latchkey::broker {
namespace {

std::string Config(const std::string& extra_capability = "") {
  return absl::StrCat(
      "agents { name: \"bot\" token_sha256: \"", Sha256Hex("tok"), "\" }\n",
      "capabilities {\n"
      "  name: \"gh\"\n"
      "  secret_id: \"github\"\n"
      "  origin: \"https://api.github.com\"\n"
      "  agents: \"bot\"\n"
      "  rules { effect: ALLOW methods: \"GET\" path: \"/repos/**\" }\n"
      "}\n",
      extra_capability);
}

class ConfigManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    std::string name =
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = std::string(tmp ? tmp : "/tmp") + "/" + name;
    std::string db = dir_ + ".db";
    std::remove(db.c_str());
    config_path_ = dir_ + ".textproto";
    WriteFile(Config());
    ASSERT_TRUE(Restart().ok());
  }
  void WriteFile(const std::string& text) {
    std::ofstream(config_path_, std::ios::trunc) << text;
  }
  // Restart rebuilds everything from the database, as a new process would.
  absl::Status Restart() {
    manager_.reset();
    sessions_.reset();
    state_.reset();
    store_.reset();
    store_ = *BrokerStore::Open(dir_ + ".db");
    state_ = std::make_unique<StateHolder>(*BrokerState::Compile({}));
    sessions_ = std::make_unique<SessionRegistry>(absl::Now, store_.get());
    EXPECT_TRUE(sessions_->Load().ok());
    manager_ = std::make_unique<ConfigManager>(state_.get(), sessions_.get(),
                                               store_.get(), config_path_);
    return manager_->Start();
  }
  std::string Text() { return manager_->GetConfig().config_text(); }

  std::string dir_, config_path_;
  std::unique_ptr<BrokerStore> store_;
  std::unique_ptr<StateHolder> state_;
  std::unique_ptr<SessionRegistry> sessions_;
  std::unique_ptr<ConfigManager> manager_;
};

TEST_F(ConfigManagerTest, InvalidApplyChangesNothingAndNamesLineAndField) {
  std::shared_ptr<const BrokerState> before = state_->Get();
  std::string text_before = Text();
  struct Case {
    std::string text, line, field;
  } cases[] = {
      // Syntax: an unknown field on line 3.
      {"agents { name: \"a\" token_sha256: \"" + Sha256Hex("x") +
           "\" }\n\ncapabilities { nme: \"x\" }\n",
       "line 3", "nme"},
      // Semantic: a bad origin on line 5, in the second capability.
      {Config("capabilities {\n  name: \"x\"\n  secret_id: \"s\"\n"
              "  origin: \"ftp://nope\"\n}\n"),
       "line 12", "capabilities[1] (x).origin"},
      // A rule without methods: line of that rule.
      {Config("capabilities {\n  name: \"y\"\n  secret_id: \"s\"\n"
              "  origin: \"https://a.example\"\n"
              "  rules { effect: ALLOW methods: \"GET\" path: \"/a\" }\n"
              "  rules { effect: DENY path: \"/b\" }\n}\n"),
       "line 14", "capabilities[1] (y).rules[1]"},
      // An agent list naming nobody.
      {Config("capabilities {\n  name: \"z\"\n  secret_id: \"s\"\n"
              "  origin: \"https://a.example\"\n  agents: \"bot\"\n"
              "  agents: \"ghost\"\n}\n"),
       "line 14", "agents[1]"},
      {"agents { name: \"bot\" token_sha256: \"short\" }\n", "line 1",
       "token_sha256"},
  };
  for (const Case& c : cases) {
    for (bool dry_run : {true, false}) {
      absl::StatusOr<v1::ApplyResponse> applied =
          manager_->Apply(c.text, dry_run);
      ASSERT_FALSE(applied.ok()) << c.text;
      EXPECT_EQ(applied.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_TRUE(absl::StrContains(applied.status().message(), c.line))
          << applied.status();
      EXPECT_TRUE(absl::StrContains(applied.status().message(), c.field))
          << applied.status();
      EXPECT_EQ(state_->Get(), before);
      EXPECT_EQ(Text(), text_before);
    }
  }
  // Nothing reached the database either.
  ASSERT_TRUE(Restart().ok());
  EXPECT_EQ(Text(), text_before);
}

TEST_F(ConfigManagerTest, DryRunDiffsWithoutChanging) {
  std::string next = absl::StrCat(
      "agents { name: \"bot\" token_sha256: \"", Sha256Hex("tok"), "\" }\n",
      "agents { name: \"new\" token_sha256: \"", Sha256Hex("n"), "\" }\n",
      "capabilities { name: \"gh\" secret_id: \"github\" origin: "
      "\"https://api.github.com\" agents: \"bot\" agents: \"new\" }\n"
      "capabilities { name: \"docs\" secret_id: \"d\" origin: "
      "\"https://docs.example\" }\n");
  std::shared_ptr<const BrokerState> before = state_->Get();
  absl::StatusOr<v1::ApplyResponse> diff = manager_->Apply(next, true);
  ASSERT_TRUE(diff.ok()) << diff.status();
  EXPECT_FALSE(diff->applied());
  EXPECT_EQ(diff->capabilities_added().size(), 1);
  EXPECT_EQ(diff->capabilities_added(0), "docs");
  EXPECT_EQ(diff->capabilities_changed(0), "gh");
  EXPECT_EQ(diff->agents_added(0), "new");
  EXPECT_TRUE(diff->agents_removed().empty());
  EXPECT_EQ(state_->Get(), before);
  diff = manager_->Apply(next, false);
  ASSERT_TRUE(diff.ok());
  EXPECT_TRUE(diff->applied());
  EXPECT_NE(state_->Get()->FindCapability("docs"), nullptr);
}

TEST_F(ConfigManagerTest, ApplyRemovingACapabilityRevokesItsSessions) {
  std::string id = sessions_->Open("bot", {"gh"}, absl::Minutes(5))->id();
  std::string without = absl::StrCat("agents { name: \"bot\" token_sha256: \"",
                                     Sha256Hex("tok"), "\" }\n");
  absl::StatusOr<v1::ApplyResponse> diff = manager_->Apply(without, false);
  ASSERT_TRUE(diff.ok()) << diff.status();
  EXPECT_EQ(diff->capabilities_removed(0), "gh");
  EXPECT_EQ(sessions_->Check(id, "bot", "gh").code, v1::REASON_SESSION_REVOKED);
  // Put back under the same name: the old session stays revoked.
  ASSERT_TRUE(manager_->Apply(Config(), false).ok());
  EXPECT_EQ(sessions_->Check(id, "bot", "gh").code, v1::REASON_SESSION_REVOKED);
}

TEST_F(ConfigManagerTest, CreateAgentShowsTokenOnceAndStoresItsHash) {
  v1::CreateAgentRequest request;
  request.set_name("helper");
  request.add_capabilities("gh");
  absl::StatusOr<v1::CreateAgentResponse> created =
      manager_->CreateAgent(request);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->token().size(), 9u + 64u);  // "lk_agent_" + 256 bits
  EXPECT_EQ(created->agent().token_sha256(), Sha256Hex(created->token()));
  const AgentIdentity* agent =
      state_->Get()->FindAgentByToken(created->token());
  ASSERT_NE(agent, nullptr);
  EXPECT_TRUE(
      BrokerState::AgentMayUse(*agent, *state_->Get()->FindCapability("gh")));
  EXPECT_FALSE(absl::StrContains(Text(), created->token()));
  EXPECT_EQ(manager_->CreateAgent(request).status().code(),
            absl::StatusCode::kAlreadyExists);
  request.set_name("other");
  request.set_capabilities(0, "missing");
  EXPECT_EQ(manager_->CreateAgent(request).status().code(),
            absl::StatusCode::kNotFound);
  // It survives a restart (the file did not change).
  ASSERT_TRUE(Restart().ok());
  EXPECT_NE(state_->Get()->FindAgentByToken(created->token()), nullptr);
}

TEST_F(ConfigManagerTest, DeleteAgentRemovesGrantsAndRevokesSessions) {
  std::string id = sessions_->Open("bot", {"gh"}, absl::Minutes(5))->id();
  ASSERT_TRUE(*manager_->DeleteAgent("bot"));
  EXPECT_EQ(state_->Get()->FindAgentByName("bot"), nullptr);
  EXPECT_TRUE(state_->Get()->FindCapability("gh")->config.agents().empty());
  EXPECT_EQ(sessions_->Check(id, "bot", "gh").code, v1::REASON_SESSION_REVOKED);
  EXPECT_FALSE(*manager_->DeleteAgent("bot"));
}

TEST_F(ConfigManagerTest, CapabilityCrud) {
  v1::Capability cap;
  cap.set_name("docs");
  cap.set_secret_id("d");
  cap.set_origin("https://docs.example");
  ASSERT_TRUE(manager_->CreateCapability(cap).ok());
  EXPECT_EQ(manager_->CreateCapability(cap).status().code(),
            absl::StatusCode::kAlreadyExists);
  cap.set_origin("not an origin");
  EXPECT_EQ(manager_->UpdateCapability(cap).status().code(),
            absl::StatusCode::kInvalidArgument);
  cap.set_origin("https://docs2.example");
  ASSERT_TRUE(manager_->UpdateCapability(cap).ok());
  EXPECT_EQ(state_->Get()->FindCapability("docs")->origin.ToString(),
            "https://docs2.example:443");
  ASSERT_TRUE(*manager_->DeleteCapability("docs"));
  EXPECT_EQ(state_->Get()->FindCapability("docs"), nullptr);
  cap.set_name("ghost");
  EXPECT_EQ(manager_->UpdateCapability(cap).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ConfigManagerTest, StartRuleFileSeedsThenDatabaseThenChangedFile) {
  v1::Capability cap;
  cap.set_name("docs");
  cap.set_secret_id("d");
  cap.set_origin("https://docs.example");
  ASSERT_TRUE(manager_->CreateCapability(cap).ok());
  // Same file: the database (with the admin-created capability) wins.
  ASSERT_TRUE(Restart().ok());
  EXPECT_NE(state_->Get()->FindCapability("docs"), nullptr);
  // An invalid changed file is ignored; the stored config stays.
  WriteFile("capabilities { name: \"bad\" }");
  ASSERT_TRUE(Restart().ok());
  EXPECT_NE(state_->Get()->FindCapability("docs"), nullptr);
  // A valid changed file replaces everything.
  WriteFile(
      Config("capabilities { name: \"files\" secret_id: \"f\" "
             "origin: \"https://files.example\" }\n"));
  ASSERT_TRUE(Restart().ok());
  EXPECT_EQ(state_->Get()->FindCapability("docs"), nullptr);
  EXPECT_NE(state_->Get()->FindCapability("files"), nullptr);
  // Reload (SIGHUP) applies the file again; an invalid one changes nothing.
  WriteFile("capabilities { name: \"bad\" }");
  EXPECT_FALSE(manager_->Reload().ok());
  EXPECT_NE(state_->Get()->FindCapability("files"), nullptr);
  WriteFile(Config());
  ASSERT_TRUE(manager_->Reload().ok());
  EXPECT_EQ(state_->Get()->FindCapability("files"), nullptr);
}

TEST_F(ConfigManagerTest, FirstStartNeedsAValidFile) {
  std::remove((dir_ + ".db").c_str());
  WriteFile("capabilities { name: \"bad\" }");
  absl::Status started = Restart();
  EXPECT_EQ(started.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(started.message(), "line 1")) << started;
}

}  // namespace
}  // namespace latchkey::broker
