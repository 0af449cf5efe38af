// Runs every row of the shared decision table (policy_test_cases.cc)
// through PolicyEngine::CheckRequest, one gtest case per row, and checks the
// properties every accepted row must have besides its expected verdict.
#include <map>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rules/path_normalizer.h"
#include "rules/policy_engine.h"
#include "rules/policy_test_cases.h"

namespace latchkey::policy {
namespace {

using cases::PolicyCase;

const PolicyEngine& EngineFor(const std::string& rule_set) {
  static auto* engines = new std::map<std::string, PolicyEngine>();
  auto it = engines->find(rule_set);
  if (it == engines->end()) {
    absl::StatusOr<PolicyEngine> engine =
        PolicyEngine::Compile(cases::RuleSetByName(rule_set));
    EXPECT_TRUE(engine.ok()) << rule_set << ": " << engine.status();
    it = engines->emplace(rule_set, *std::move(engine)).first;
  }
  return it->second;
}

class PolicyTableTest : public ::testing::TestWithParam<PolicyCase> {};

TEST_P(PolicyTableTest, Decides) {
  const PolicyCase& c = GetParam();
  const PolicyEngine& engine = EngineFor(c.rule_set);
  SCOPED_TRACE(absl::StrCat("rule_set=", c.rule_set, " method=\"",
                            absl::CEscape(c.method), "\" path=\"",
                            absl::CEscape(c.raw_path.substr(0, 200)), "\""));

  const PolicyDecision d = engine.CheckRequest(c.method, c.raw_path);
  EXPECT_EQ(d.allowed, c.allowed) << d.message;
  EXPECT_EQ(latchkey::v1::ReasonCode_Name(d.code),
            latchkey::v1::ReasonCode_Name(c.code))
      << d.message;
  EXPECT_EQ(d.rule_index, c.rule_index) << d.rule;
  EXPECT_FALSE(d.message.empty());
  if (c.rule_index >= 0) {
    EXPECT_TRUE(
        absl::StartsWith(d.rule, absl::StrCat("rules[", c.rule_index, "] ")))
        << d.rule;
  } else {
    EXPECT_EQ(d.rule, "");
  }

  if (c.code == latchkey::v1::REASON_PATH_REJECTED) {
    EXPECT_EQ(d.normalized_path, "");
    EXPECT_FALSE(NormalizePath(c.raw_path).ok());
    return;
  }
  // Accepted: the normalized path is a fixed point and deciding on it gives
  // the same verdict (it is what the upstream will be sent).
  ASSERT_FALSE(d.normalized_path.empty());
  if (!c.normalized.empty()) {
    EXPECT_EQ(d.normalized_path, c.normalized);
  }
  absl::StatusOr<std::string> again = NormalizePath(d.normalized_path);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, d.normalized_path);
  const PolicyDecision d2 = engine.Decide(c.method, d.normalized_path);
  EXPECT_EQ(d2.allowed, d.allowed);
  EXPECT_EQ(d2.code, d.code);
  EXPECT_EQ(d2.rule_index, d.rule_index);
  EXPECT_EQ(d2.rule, d.rule);
}

std::string CaseName(const ::testing::TestParamInfo<PolicyCase>& info) {
  std::string name = absl::StrCat("r", info.index, "_", info.param.rule_set,
                                  "_", info.param.label);
  for (char& ch : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Table, PolicyTableTest,
                         ::testing::ValuesIn(cases::PolicyCases()), CaseName);

TEST(PolicyTableSize, AtLeast150Rows) {
  EXPECT_GE(cases::PolicyCases().size(), 150u);
}

// Every rule set the table names must exist and compile.
TEST(PolicyTableSize, EveryRuleSetCompiles) {
  for (const auto& [name, text] : cases::RuleSets()) {
    absl::StatusOr<PolicyEngine> engine =
        PolicyEngine::Compile(cases::ParseRules(text));
    EXPECT_TRUE(engine.ok()) << name << ": " << engine.status();
  }
}

}  // namespace
}  // namespace latchkey::policy
