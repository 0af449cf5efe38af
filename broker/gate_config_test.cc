// Bad gate settings are refused when a configuration is compiled, naming
// the field and the line; good ones compile.
#include "broker/gate_config.h"

#include "absl/strings/match.h"
#include "broker/broker_config.h"
#include "gtest/gtest.h"

namespace latchkey::broker {
namespace {

constexpr char kPrefix[] =
    "capabilities {\n"
    "  name: \"c\"\n"
    "  secret_id: \"s\"\n"
    "  origin: \"https://a.example\"\n";

TEST(GateConfigTest, BadGatesNameTheFieldAndLine) {
  struct Case {
    std::string fields;
    std::string expect;
  } cases[] = {
      {"  max_reason_bytes: 5000\n", "max_reason_bytes: must be at most 1024"},
      {"  approval: 7\n", "approval: must be APPROVAL_MODE_NONE"},
      {"  approval_timeout { seconds: -1 }\n", "approval_timeout"},
      {"  approval_timeout { seconds: 90000 }\n", "approval_timeout"},
      {"  health_request { path: \"v1/balance\" }\n", "health_request.path"},
      {"  health_request { method: \"GET\" }\n", "health_request.path"},
      {"  health_request { method: \"get\" path: \"/x\" }\n",
       "health_request.method"},
  };
  for (const Case& c : cases) {
    std::string text = std::string(kPrefix) + c.fields + "}\n";
    auto compiled = CompileBrokerConfigText(text);
    ASSERT_FALSE(compiled.ok()) << text;
    EXPECT_TRUE(absl::StrContains(compiled.status().message(), c.expect))
        << text << " -> " << compiled.status();
    // The field is on line 5 of every case.
    EXPECT_TRUE(absl::StrContains(compiled.status().message(), "line 5 "))
        << compiled.status();
  }
}

TEST(GateConfigTest, GoodGatesCompile) {
  std::string text = std::string(kPrefix) +
                     "  require_reason: true\n"
                     "  max_reason_bytes: 200\n"
                     "  approval: APPROVAL_MODE_EVERY_REQUEST\n"
                     "  approval_timeout { seconds: 600 }\n"
                     "  health_request { method: \"GET\" path: \"/v1/b\" }\n"
                     "}\n";
  auto compiled = CompileBrokerConfigText(text);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  EXPECT_EQ(compiled->state->FindCapability("c")->config.approval(),
            v1::APPROVAL_MODE_EVERY_REQUEST);
}

}  // namespace
}  // namespace latchkey::broker
