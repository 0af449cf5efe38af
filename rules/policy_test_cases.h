// The policy decision table, shared by policy_table_test (which checks every
// row) and policy_fuzz_smoke_test (which uses the rows' paths and rule sets
// as seeds), so the fuzz invariants are exercised on every known attack.
#ifndef LATCHKEY_RULES_POLICY_TEST_CASES_H_
#define LATCHKEY_RULES_POLICY_TEST_CASES_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_field.h"
#include "proto/common.pb.h"

namespace latchkey::policy::cases {

// PolicyCase is one row: a request, the rule set it runs against, and the
// expected verdict of PolicyEngine::CheckRequest.
struct PolicyCase {
  std::string label;  // short, for the test name
  std::string method;
  std::string raw_path;
  std::string rule_set;  // a name from RuleSets()
  bool allowed = false;
  latchkey::v1::ReasonCode code = latchkey::v1::REASON_UNSPECIFIED;
  int rule_index = -1;
  // expected normalized path when the path is accepted; empty: not checked.
  std::string normalized;
};

// PolicyCases returns the table (at least 150 rows).
const std::vector<PolicyCase>& PolicyCases();

// RuleSets returns (name, text) pairs. The text has one rule per line:
// "<ALLOW|DENY|UNSPECIFIED|number> <METHOD[,METHOD...]> <pattern>"; a
// method list of "-" means no methods.
const std::vector<std::pair<std::string, std::string>>& RuleSets();

// ParseRules turns rule-set text into protos; it aborts on malformed text
// (test data is trusted, a typo must fail loudly).
google::protobuf::RepeatedPtrField<latchkey::v1::Rule> ParseRules(
    absl::string_view text);

// RuleSetByName parses the named rule set; it aborts on an unknown name.
google::protobuf::RepeatedPtrField<latchkey::v1::Rule> RuleSetByName(
    absl::string_view name);

}  // namespace latchkey::policy::cases

#endif  // LATCHKEY_RULES_POLICY_TEST_CASES_H_
