// PolicyEngine: compile-time validation and the shape of decisions. The
// bulk of the decision cases lives in policy_table_test.cc.
#include "rules/policy_engine.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "common/limits.h"
#include "gtest/gtest.h"
#include "rules/policy_test_cases.h"

namespace latchkey::policy {
namespace {

using cases::ParseRules;
using latchkey::v1::Rule;

absl::Status CompileError(absl::string_view text) {
  absl::StatusOr<PolicyEngine> e = PolicyEngine::Compile(ParseRules(text));
  return e.ok() ? absl::OkStatus() : e.status();
}

TEST(PolicyEngineTest, CompileErrorsNameTheRule) {
  struct Case {
    const char* rules;
    const char* want;
  };
  for (const Case& c : std::vector<Case>{
           {"ALLOW GET /ok\nUNSPECIFIED GET /x", "rules[1]: effect must be"},
           {"ALLOW GET /ok\n7 GET /x", "rules[1]: effect must be"},
           {"-1 GET /x", "rules[0]: effect must be"},
           {"ALLOW - /x", "rules[0]: no methods"},
           {"ALLOW GET /ok\nALLOW GET,, /x", "rules[1]: method"},
           {"ALLOW G/T /x", "rules[0]: method"},
           {"ALLOW GE* /x", "rules[0]: method"},
           {"ALLOW GET x", "rules[0]: path pattern"},
           {"ALLOW GET /ok\nDENY GET /ok\nDENY GET /a*",
            "rules[2]: path pattern"},
           {"ALLOW GET /v1//x", "rules[0]: path pattern"},
           {"ALLOW GET /v1/%2F", "rules[0]: path pattern"},
           {"ALLOW GET /v1?x", "rules[0]: path pattern"},
       }) {
    absl::Status s = CompileError(c.rules);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.rules;
    EXPECT_TRUE(absl::StrContains(s.message(), c.want))
        << c.rules << " -> " << s;
  }
}

TEST(PolicyEngineTest, EmptyPathPatternIsRefused) {
  google::protobuf::RepeatedPtrField<Rule> rules;
  Rule* r = rules.Add();
  r->set_effect(Rule::ALLOW);
  r->add_methods("GET");
  EXPECT_FALSE(PolicyEngine::Compile(rules).ok());
  r->add_methods("");
  r->set_path("/x");
  EXPECT_FALSE(PolicyEngine::Compile(rules).ok());
}

TEST(PolicyEngineTest, TooManyRules) {
  std::string text;
  for (size_t i = 0; i <= kMaxRulesPerCapability; ++i) text += "ALLOW GET /x\n";
  absl::Status s = CompileError(text);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  text = text.substr(text.find('\n') + 1);
  EXPECT_TRUE(CompileError(text).ok());
}

TEST(PolicyEngineTest, RuleTextAndMessages) {
  absl::StatusOr<PolicyEngine> e = PolicyEngine::Compile(ParseRules(
      "ALLOW get,head /v1/**\nALLOW * /v2/%7ex/\nDENY DELETE /v1/**"));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->rule_count(), 3);

  PolicyDecision d = e->Decide("GET", "/v1/x");
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.rule, "rules[0] ALLOW GET,HEAD /v1/**");
  EXPECT_EQ(d.message, "Allowed by rules[0] ALLOW GET,HEAD /v1/**.");
  EXPECT_EQ(d.normalized_path, "");  // Decide does not copy the path

  d = e->Decide("PUT", "/v2/~x");
  EXPECT_EQ(d.rule, "rules[1] ALLOW * /v2/~x/");

  d = e->Decide("DELETE", "/v1/x");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.code, latchkey::v1::REASON_RULE_DENY);
  EXPECT_EQ(d.rule, "rules[2] DENY DELETE /v1/**");
  EXPECT_TRUE(absl::StrContains(d.message, "rules[2] DENY DELETE /v1/**"));

  d = e->Decide("POST", "/v1/x");
  EXPECT_EQ(d.code, latchkey::v1::REASON_NO_RULE_MATCHED);
  EXPECT_EQ(d.rule_index, -1);
  EXPECT_TRUE(absl::StrContains(d.message, "POST")) << d.message;

  d = e->Decide("get", "/v1/x");
  EXPECT_EQ(d.code, latchkey::v1::REASON_INVALID_REQUEST);
  EXPECT_TRUE(absl::StrContains(d.message, "\"GET\"")) << d.message;

  d = e->CheckRequest("GET", "/v1/%2Fx");
  EXPECT_EQ(d.code, latchkey::v1::REASON_PATH_REJECTED);
  EXPECT_TRUE(absl::StrContains(d.message, "%2F")) << d.message;
  EXPECT_EQ(d.normalized_path, "");

  d = e->CheckRequest("GET", "/v1/a/../%62");
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.normalized_path, "/v1/b");
}

// Extension methods are not in the per-method shortlists; they take the
// slower path through every rule and must still follow deny-wins.
TEST(PolicyEngineTest, ExtensionMethods) {
  absl::StatusOr<PolicyEngine> e = PolicyEngine::Compile(
      ParseRules("ALLOW purge,GET /x/**\nDENY PURGE /x/locked\n"
                 "ALLOW * /y\nDENY * /y/z"));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->Decide("PURGE", "/x/a").rule_index, 0);
  EXPECT_TRUE(e->Decide("PURGE", "/x/a").allowed);
  EXPECT_EQ(e->Decide("PURGE", "/x/locked").code,
            latchkey::v1::REASON_RULE_DENY);
  EXPECT_EQ(e->Decide("PURGE", "/x/locked").rule_index, 1);
  EXPECT_EQ(e->Decide("GET", "/x/locked").rule_index, 0);
  EXPECT_EQ(e->Decide("MKCOL", "/x/a").code,
            latchkey::v1::REASON_NO_RULE_MATCHED);
  EXPECT_EQ(e->Decide("MKCOL", "/y").rule_index, 2);
  EXPECT_EQ(e->Decide("MKCOL", "/y/z").rule_index, 3);
  EXPECT_EQ(e->Decide("PURGE", "/y/z").code, latchkey::v1::REASON_RULE_DENY);
  EXPECT_EQ(e->Decide("CONNECT", "/y/z").rule_index, 3);
  EXPECT_EQ(e->Decide("CONNECT", "/y").rule_index, 2);
}

TEST(PolicyEngineTest, NoRulesDeniesEverything) {
  absl::StatusOr<PolicyEngine> e = PolicyEngine::Compile({});
  ASSERT_TRUE(e.ok());
  PolicyDecision d = e->CheckRequest("GET", "/");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.code, latchkey::v1::REASON_NO_RULE_MATCHED);
  EXPECT_TRUE(absl::StrContains(d.message, "no rules")) << d.message;
}

// Engines are copied into per-capability maps and shared across threads.
TEST(PolicyEngineTest, CopiesAndConcurrentUse) {
  absl::StatusOr<PolicyEngine> e =
      PolicyEngine::Compile(cases::RuleSetByName("github"));
  ASSERT_TRUE(e.ok());
  const PolicyEngine copy = *e;
  std::vector<std::thread> threads;
  std::vector<int> allowed(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&copy, &allowed, t] {
      for (int i = 0; i < 2000; ++i) {
        if (copy.CheckRequest("GET", "/repos/o/r/issues/../issues").allowed) {
          ++allowed[t];
        }
        copy.CheckRequest("DELETE", "/repos/o/r");
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int n : allowed) EXPECT_EQ(n, 2000);
}

}  // namespace
}  // namespace latchkey::policy
