#include "broker/broker_config.h"

#include "absl/strings/match.h"
#include "common/crypto.h"
#include "gtest/gtest.h"

namespace latchkey::broker {
namespace {

std::string ValidConfig() {
  return "agents { name: \"bot\" token_sha256: \"" + Sha256Hex("tok") +
         "\" }\n"
         "capabilities { name: \"gh\" secret_id: \"github\" "
         "origin: \"https://api.github.com\" agents: \"bot\" "
         "rules { effect: ALLOW methods: \"GET\" path: \"/repos/**\" } }\n";
}

TEST(BrokerConfigTest, CompilesValidConfig) {
  auto config = ParseBrokerConfig(ValidConfig());
  ASSERT_TRUE(config.ok()) << config.status();
  auto state = BrokerState::Compile(*config);
  ASSERT_TRUE(state.ok()) << state.status();
  const CompiledCapability* gh = (*state)->FindCapability("gh");
  ASSERT_NE(gh, nullptr);
  EXPECT_EQ(gh->origin.ToString(), "https://api.github.com:443");
  EXPECT_EQ(gh->default_ttl, kDefaultSessionTtl);
  const AgentIdentity* bot = (*state)->FindAgentByToken("tok");
  ASSERT_NE(bot, nullptr);
  EXPECT_TRUE(BrokerState::AgentMayUse(*bot, *gh));
  EXPECT_EQ((*state)->FindAgentByToken("tok2"), nullptr);
  EXPECT_EQ((*state)->FindAgentByToken(""), nullptr);
}

TEST(BrokerConfigTest, SyntaxErrorNamesLine) {
  auto config = ParseBrokerConfig("agents { name: \"a\" }\ncapabilities { nme: 1 }");
  ASSERT_FALSE(config.ok());
  EXPECT_TRUE(absl::StrContains(config.status().message(), "line 2"))
      << config.status();
}

TEST(BrokerConfigTest, SemanticErrorsNameTheEntry) {
  struct Case {
    std::string text;
    std::string expect;
  } cases[] = {
      {"agents { name: \"Bad Name\" token_sha256: \"" + Sha256Hex("t") + "\" }",
       "agents[0]"},
      {"agents { name: \"a\" token_sha256: \"abc\" }", "token_sha256"},
      {"capabilities { name: \"c\" secret_id: \"s\" origin: "
       "\"https://x@evil\" }",
       "origin"},
      {"capabilities { name: \"c\" origin: \"https://a.example\" }",
       "secret_id"},
      {"capabilities { name: \"c\" secret_id: \"s\" origin: "
       "\"https://a.example\" agents: \"ghost\" }",
       "no agent named"},
      {"capabilities { name: \"c\" secret_id: \"s\" origin: "
       "\"https://a.example\" rules { effect: ALLOW path: \"/x\" } }",
       "rules[0]"},
      {"capabilities { name: \"c\" secret_id: \"s\" origin: "
       "\"https://a.example\" } capabilities { name: \"c\" secret_id: \"s\" "
       "origin: \"https://a.example\" }",
       "duplicate"},
  };
  for (const Case& c : cases) {
    auto config = ParseBrokerConfig(c.text);
    ASSERT_TRUE(config.ok()) << c.text;
    auto state = BrokerState::Compile(*config);
    ASSERT_FALSE(state.ok()) << c.text;
    EXPECT_TRUE(absl::StrContains(state.status().message(), c.expect))
        << c.text << " -> " << state.status();
  }
}

}  // namespace
}  // namespace latchkey::broker
