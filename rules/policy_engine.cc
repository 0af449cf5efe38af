#include "rules/policy_engine.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/limits.h"
#include "rules/http_method.h"
#include "rules/path_normalizer.h"

namespace latchkey::policy {
namespace {

using latchkey::v1::Rule;

absl::Status RuleError(int index, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("rules[", index, "]: ", why));
}

// StandardMethodIndex numbers the standard methods so that each rule's
// methods become a bit set and each method a shortlist of rules; -1 for any
// other (extension) method.
int StandardMethodIndex(absl::string_view m) {
  static constexpr absl::string_view kStandard[] = {
      "GET",    "HEAD",    "POST",  "PUT",    "PATCH",
      "DELETE", "OPTIONS", "TRACE", "CONNECT"};
  static_assert(sizeof(kStandard) / sizeof(kStandard[0]) == 9,
                "kStandardMethods");
  for (int i = 0; i < 9; ++i) {
    if (m == kStandard[i]) return i;
  }
  return -1;
}

PolicyDecision Denied(latchkey::v1::ReasonCode code, std::string message) {
  PolicyDecision d;
  d.allowed = false;
  d.code = code;
  d.message = std::move(message);
  return d;
}

}  // namespace

std::string FoldCase(absl::string_view path) {
  std::string out(path);
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '%') {
      i += 2;  // keep an escape's hex digits as they are
      continue;
    }
    out[i] = absl::ascii_tolower(static_cast<unsigned char>(out[i]));
  }
  return out;
}

std::vector<std::string> DenySpellings(absl::string_view path) {
  std::vector<std::string> spellings = {std::string(path)};
  // "/v1/admin/" is "/v1/admin" to Express, Flask/Werkzeug redirects and
  // Spring before 6.
  if (path.size() > 1 && path.back() == '/') {
    spellings.emplace_back(path.substr(0, path.size() - 1));
  }
  // "/v1/admin.json" is "/v1/admin" to Rails, Spring's suffix matching and
  // many REST frameworks (a format suffix).
  absl::string_view trimmed = spellings.back();
  size_t slash = trimmed.rfind('/');
  size_t dot = trimmed.find('.', slash + 2);
  if (slash != absl::string_view::npos && dot != absl::string_view::npos) {
    spellings.emplace_back(trimmed.substr(0, dot));
  }
  return spellings;
}

const PolicyEngine::CompiledRule* PolicyEngine::RuleGroup::FirstMatch(
    int method_index, absl::string_view method, absl::string_view path) const {
  if (method_index >= 0) {
    for (uint16_t i : by_method[method_index]) {
      if (rules[i].pattern.Matches(path)) return &rules[i];
    }
    return nullptr;
  }
  // Extension methods are rare: walk every rule of the group.
  for (const CompiledRule& r : rules) {
    bool method_ok = r.any_method;
    for (const std::string& m : r.extension_methods) {
      method_ok = method_ok || m == method;
    }
    if (method_ok && r.pattern.Matches(path)) return &r;
  }
  return nullptr;
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
      return RuleError(i,
                       "no methods; list methods such as \"GET\", or "
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
        compiled.standard_methods = ~uint32_t{0};
      } else if (int m = StandardMethodIndex(*method); m >= 0) {
        compiled.standard_methods |= uint32_t{1} << m;
      } else {
        compiled.extension_methods.push_back(*method);
      }
      methods.push_back(*std::move(method));
    }
    compiled.text =
        absl::StrCat("rules[", i, "] ", deny ? "DENY " : "ALLOW ",
                     compiled.any_method ? "*" : absl::StrJoin(methods, ","),
                     " ", compiled.pattern.pattern());
    if (deny) {
      compiled.message = absl::StrCat(
          "Denied by ", compiled.text,
          "; a deny rule overrides every allow rule, so this capability "
          "cannot make this request.");
    } else {
      compiled.message = absl::StrCat("Allowed by ", compiled.text, ".");
    }
    if (deny) {
      // The same rule, case-folded, for the case-folded spellings of a
      // request (see DenySpellings).
      absl::StatusOr<PathPattern> folded =
          PathPattern::Compile(FoldCase(rule.path()));
      if (!folded.ok()) return RuleError(i, folded.status().message());
      CompiledRule folded_rule = compiled;
      folded_rule.pattern = *std::move(folded);
      engine.deny_folded_.Add(std::move(folded_rule));
    }
    (deny ? engine.deny_ : engine.allow_).Add(std::move(compiled));
  }
  return engine;
}

void PolicyEngine::RuleGroup::Add(CompiledRule rule) {
  const auto position = static_cast<uint16_t>(rules.size());
  for (int m = 0; m < kStandardMethods; ++m) {
    if (rule.standard_methods & (uint32_t{1} << m)) {
      by_method[m].push_back(position);
    }
  }
  rules.push_back(std::move(rule));
}

const PolicyEngine::CompiledRule* PolicyEngine::FirstDeny(
    int method_index, absl::string_view method,
    absl::string_view normalized_path) const {
  for (const std::string& spelling : DenySpellings(normalized_path)) {
    if (const CompiledRule* r =
            deny_.FirstMatch(method_index, method, spelling)) {
      return r;
    }
  }
  for (const std::string& spelling : DenySpellings(FoldCase(normalized_path))) {
    if (const CompiledRule* r =
            deny_folded_.FirstMatch(method_index, method, spelling)) {
      return r;
    }
  }
  return nullptr;
}

PolicyDecision PolicyEngine::Decide(absl::string_view method,
                                    absl::string_view normalized_path) const {
  if (absl::Status s = ValidateRequestMethod(method); !s.ok()) {
    return Denied(latchkey::v1::REASON_INVALID_REQUEST,
                  absl::StrCat("Invalid request: ", s.message(), "."));
  }
  const int method_index = StandardMethodIndex(method);
  // Every DENY is consulted before any ALLOW: an ALLOW listed earlier must
  // not shadow a DENY listed later.
  if (const CompiledRule* r =
          FirstDeny(method_index, method, normalized_path)) {
    PolicyDecision d = Denied(latchkey::v1::REASON_RULE_DENY, r->message);
    d.rule_index = r->index;
    d.rule = r->text;
    return d;
  }
  if (const CompiledRule* r =
          allow_.FirstMatch(method_index, method, normalized_path)) {
    PolicyDecision d;
    d.allowed = true;
    d.code = latchkey::v1::REASON_ALLOWED;
    d.rule_index = r->index;
    d.rule = r->text;
    d.message = r->message;
    return d;
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
