// PolicyEngine: a capability's rules, compiled once, deciding requests.
//
// Semantics (DESIGN.md invariant 2, "default deny, deny wins"):
//  - no rules: every request is denied (REASON_NO_RULE_MATCHED);
//  - a rule matches when the request method is one of its methods ("*" is
//    any) and its path pattern (see path_pattern.h) matches the path;
//  - if any DENY rule matches, the request is denied (REASON_RULE_DENY) and
//    the first matching DENY, in rule order, is reported, even when an
//    ALLOW comes earlier: order never weakens a deny;
//  - a DENY rule also matches every spelling of the path that common
//    servers route to the same place: in any ASCII case, without a
//    trailing '/', without a format suffix (".json") on the last segment
//    (DenySpellings, FoldCase). ALLOW rules match the path exactly, so a
//    spelling difference can only ever turn into a denial;
//  - otherwise the first matching ALLOW decides (REASON_ALLOWED);
//  - otherwise it is denied by default (REASON_NO_RULE_MATCHED).
// Methods: rules' methods are upper-cased at Compile ("get" -> "GET").
// Request methods are compared byte for byte and must already be upper
// case: "get" or "Get" in a request is refused with REASON_INVALID_REQUEST
// (as is any method that is not an RFC 7230 token, or "*").
//
// All work that does not depend on the request (pattern compilation, rule
// text, messages) happens in Compile; Decide only compares and copies.
// A PolicyEngine is immutable, cheap to copy, and safe to use from many
// threads at once.
#ifndef LATCHKEY_RULES_POLICY_ENGINE_H_
#define LATCHKEY_RULES_POLICY_ENGINE_H_

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_field.h"
#include "proto/common.pb.h"
#include "rules/path_pattern.h"

namespace latchkey::policy {

// PolicyDecision is the verdict on one request, with what a model or an
// operator needs to understand it.
struct PolicyDecision {
  bool allowed = false;
  // REASON_ALLOWED, REASON_RULE_DENY, REASON_NO_RULE_MATCHED; also
  // REASON_INVALID_REQUEST (bad method) and, from CheckRequest only,
  // REASON_PATH_REJECTED.
  latchkey::v1::ReasonCode code = latchkey::v1::REASON_UNSPECIFIED;
  // rule_index is the deciding rule's index in the capability's rules, or
  // -1 when no rule decided.
  int rule_index = -1;
  // rule describes the deciding rule, e.g. "rules[2] DENY DELETE /v1/**";
  // empty when no rule decided.
  std::string rule;
  // message is one sentence for a model: what happened and what to do.
  std::string message;
  // normalized_path is the path that was matched and is what must be sent
  // upstream. Set by CheckRequest when the path was accepted; Decide leaves
  // it empty (its caller already holds the normalized path).
  std::string normalized_path;
};

// FoldCase lower-cases the ASCII letters of a normalized path or a rule's
// pattern, leaving %XX escapes as they are.
std::string FoldCase(absl::string_view path);

// DenySpellings lists `path` and the spellings servers route the same way:
// without a trailing '/', and without a format suffix on the last segment.
std::vector<std::string> DenySpellings(absl::string_view path);

class PolicyEngine {
 public:
  // Compile validates and compiles `rules`. INVALID_ARGUMENT, naming the
  // rule ("rules[3]: ..."), for: an effect other than ALLOW or DENY; no
  // methods, or a method that is not "*" or an HTTP token; an invalid path
  // pattern; more than kMaxRulesPerCapability rules.
  static absl::StatusOr<PolicyEngine> Compile(
      const google::protobuf::RepeatedPtrField<latchkey::v1::Rule>& rules);

  // Decide judges a request whose path has ALREADY been through
  // NormalizePath. Passing a raw path here would let "/v1/../admin" be
  // matched literally: use CheckRequest for raw paths.
  PolicyDecision Decide(absl::string_view method,
                        absl::string_view normalized_path) const;

  // CheckRequest normalizes `raw_path` first; if the normalizer refuses it
  // the decision is REASON_PATH_REJECTED with the normalizer's message.
  // Otherwise it is Decide's answer plus normalized_path.
  PolicyDecision CheckRequest(absl::string_view method,
                              absl::string_view raw_path) const;

  // rule_count is the number of rules compiled.
  int rule_count() const { return rule_count_; }

 private:
  // The standard methods (RFC 9110, plus PATCH) get their own index so
  // Decide can go straight to the rules that name them.
  static constexpr int kStandardMethods = 9;

  struct CompiledRule {
    explicit CompiledRule(PathPattern p) : pattern(std::move(p)) {}

    int index = 0;
    bool any_method = false;
    // Bit i set: the rule names standard method i ("*" sets them all).
    uint32_t standard_methods = 0;
    std::vector<std::string> extension_methods;  // upper case, e.g. "PURGE"
    PathPattern pattern;
    std::string text;     // "rules[2] DENY DELETE /v1/**"
    std::string message;  // precomputed PolicyDecision::message
  };

  // Rules of one effect, in rule order, with per-method shortlists.
  struct RuleGroup {
    std::vector<CompiledRule> rules;
    // by_method[i]: indexes into `rules` of those that can match standard
    // method i, in order; computed once so Decide skips the others.
    std::array<std::vector<uint16_t>, kStandardMethods> by_method;

    // Add appends a rule and indexes it by method.
    void Add(CompiledRule rule);
    // FirstMatch returns the first rule matching the request, or null.
    // method_index is StandardMethodIndex(method), -1 for an extension.
    const CompiledRule* FirstMatch(int method_index, absl::string_view method,
                                   absl::string_view path) const;
  };

  PolicyEngine() = default;

  // FirstDeny is the first DENY rule matching any spelling of the path.
  const CompiledRule* FirstDeny(int method_index, absl::string_view method,
                                absl::string_view normalized_path) const;

  // Split by effect so Decide can check every DENY before any ALLOW.
  RuleGroup deny_;
  RuleGroup deny_folded_;  // deny_, case-folded
  RuleGroup allow_;
  int rule_count_ = 0;
};

}  // namespace latchkey::policy

#endif  // LATCHKEY_RULES_POLICY_ENGINE_H_
