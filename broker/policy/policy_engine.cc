#include "broker/policy/policy_engine.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "broker/policy/http_method.h"
#include "broker/policy/path_normalizer.h"
#include "common/limits.h"

namespace latchkey::policy {
namespace {

using latchkey::v1::Rule;

absl::Status RuleError(int index, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("rules[", index, "]: ", why));
}

// MethodBit gives each standard method (RFC 9110 and PATCH) its own bit, so
// that Decide tests a rule's methods with one AND; 0 for any other method.
uint32_t MethodBit(absl::string_view m) {
  static constexpr absl::string_view kStandard[] = {
      "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
      "CONNECT"};
  for (size_t i = 0; i < sizeof(kStandard) / sizeof(kStandard[0]); ++i) {
    if (m == kStandard[i]) return uint32_t{1} << i;
  }
  return 0;
}

PolicyDecision Denied(latchkey::v1::ReasonCode code, std::string message) {
  PolicyDecision d;
  d.allowed = false;
  d.code = code;
  d.message = std::move(message);
  return d;
}

}  // namespace

bool PolicyEngine::CompiledRule::MatchesMethod(uint32_t method_bit,
                                               absl::string_view method) const {
  if (method_bit != 0) return (method_bits & method_bit) != 0;
  if (any_method) return true;
  for (const std::string& m : extension_methods) {
    if (m == method) return true;
  }
  return false;
}

absl::StatusOr<PolicyEngine> PolicyEngine::Compile(
    const google::protobuf::RepeatedPtrField<Rule>& rules) {
  if (static_cast<size_t>(rules.size()) > kMaxRulesPerCapability) {
    return absl::InvalidArgumentError(
        absl::StrCat("a capability may have at most ", kMaxRulesPerCapability,
                     " rules, this one has ", rules.size()));
  }
  PolicyEngine engine;
  engine.rule_count_ = rules.size();
  for (int i = 0; i < rules.size(); ++i) {
    const Rule& rule = rules.Get(i);
    const bool deny = rule.effect() == Rule::DENY;
    if (!deny && rule.effect() != Rule::ALLOW) {
      return RuleError(i, absl::StrCat("effect must be ALLOW or DENY, not ",
                                       static_cast<int>(rule.effect())));
    }
    if (rule.methods().empty()) {
      return RuleError(i, "no methods; list methods such as \"GET\", or "
                          "\"*\" for any method");
    }
    absl::StatusOr<PathPattern> pattern = PathPattern::Compile(rule.path());
    if (!pattern.ok()) return RuleError(i, pattern.status().message());

    CompiledRule compiled(*std::move(pattern));
    compiled.index = i;
    std::vector<std::string> methods;  // as listed, upper-cased, for text
    for (const std::string& raw_method : rule.methods()) {
      absl::StatusOr<std::string> method = NormalizeRuleMethod(raw_method);
      if (!method.ok()) return RuleError(i, method.status().message());
      if (*method == "*") {
        compiled.any_method = true;
        compiled.method_bits = ~uint32_t{0};
      } else if (uint32_t bit = MethodBit(*method); bit != 0) {
        compiled.method_bits |= bit;
      } else {
        compiled.extension_methods.push_back(*method);
      }
      methods.push_back(*std::move(method));
    }
    compiled.text = absl::StrCat(
        "rules[", i, "] ", deny ? "DENY " : "ALLOW ",
        compiled.any_method ? "*" : absl::StrJoin(methods, ","), " ",
        compiled.pattern.pattern());
    if (deny) {
      compiled.message = absl::StrCat(
          "Denied by ", compiled.text,
          "; a deny rule overrides every allow rule, so this capability "
          "cannot make this request.");
      engine.deny_rules_.push_back(std::move(compiled));
    } else {
      compiled.message = absl::StrCat("Allowed by ", compiled.text, ".");
      engine.allow_rules_.push_back(std::move(compiled));
    }
  }
  return engine;
}

PolicyDecision PolicyEngine::Decide(absl::string_view method,
                                    absl::string_view normalized_path) const {
  if (absl::Status s = ValidateRequestMethod(method); !s.ok()) {
    return Denied(latchkey::v1::REASON_INVALID_REQUEST,
                  absl::StrCat("Invalid request: ", s.message(), "."));
  }
  const uint32_t method_bit = MethodBit(method);
  // Every DENY is consulted before any ALLOW: an ALLOW listed earlier must
  // not shadow a DENY listed later.
  for (const CompiledRule& r : deny_rules_) {
    if (r.MatchesMethod(method_bit, method) &&
        r.pattern.Matches(normalized_path)) {
      PolicyDecision d = Denied(latchkey::v1::REASON_RULE_DENY, r.message);
      d.rule_index = r.index;
      d.rule = r.text;
      return d;
    }
  }
  for (const CompiledRule& r : allow_rules_) {
    if (r.MatchesMethod(method_bit, method) &&
        r.pattern.Matches(normalized_path)) {
      PolicyDecision d;
      d.allowed = true;
      d.code = latchkey::v1::REASON_ALLOWED;
      d.rule_index = r.index;
      d.rule = r.text;
      d.message = r.message;
      return d;
    }
  }
  if (rule_count_ == 0) {
    return Denied(latchkey::v1::REASON_NO_RULE_MATCHED,
                  "This capability has no rules, so every request is denied; "
                  "an operator must add an allow rule.");
  }
  return Denied(
      latchkey::v1::REASON_NO_RULE_MATCHED,
      absl::StrCat("No rule of this capability allows ", method,
                   " on this path, so it is denied by default; check the "
                   "capability's rules for the methods and paths it allows."));
}

PolicyDecision PolicyEngine::CheckRequest(absl::string_view method,
                                          absl::string_view raw_path) const {
  absl::StatusOr<std::string> normalized = NormalizePath(raw_path);
  if (!normalized.ok()) {
    return Denied(latchkey::v1::REASON_PATH_REJECTED,
                  std::string(normalized.status().message()));
  }
  PolicyDecision d = Decide(method, *normalized);
  d.normalized_path = *std::move(normalized);
  return d;
}

}  // namespace latchkey::policy
