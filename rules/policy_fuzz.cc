// libFuzzer target for the request policy (NormalizePath, PathPattern,
// PolicyEngine). It aborts, printing what broke, when an invariant fails.
//
// Build and run with clang's libFuzzer + ASan + UBSan, bounded to 60 s, from
// the repository root (this is the exact command; see FUZZING.md):
/*
bazel build //proto:common_cc_proto && BIN="$(bazel info bazel-bin)" &&
clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -I. -I"$BIN" \
  rules/policy_fuzz.cc rules/path_normalizer.cc \
  rules/path_pattern.cc rules/http_method.cc \
  rules/policy_engine.cc \
  "$BIN/proto/common.pb.cc" \
  $(pkg-config --cflags --libs protobuf re2 absl_status absl_statusor \
    absl_strings absl_str_format) -o /tmp/policy_fuzz &&
mkdir -p /tmp/policy_fuzz_corpus &&
/tmp/policy_fuzz -max_total_time=60 -max_len=4200 \
  -dict=rules/policy_fuzz.dict /tmp/policy_fuzz_corpus
*/
//
// The same LLVMFuzzerTestOneInput is linked into the ordinary cc_test
// //rules:policy_fuzz_smoke_test, which feeds it the decision
// table's requests and a few thousand deterministic mutations of them.
//
// Input: byte 0 chooses the rules (0: the rule lines in the input, 1 and 2:
// built-in rule sets, 3: no rules); then "METHOD\nPATH\nRULE\nRULE...",
// each rule "ALLOW|DENY METHOD[,METHOD] PATTERN".
//
// Invariants checked on every input:
//  1. If NormalizePath accepts a path, its output is accepted again and
//     unchanged (fixed point), and has the canonical shape (starts with '/',
//     printable ASCII, no "//", no dot segment, within kMaxPathBytes).
//  2. Decide on the re-normalized path gives the same decision and rule.
//  3. CheckRequest(raw) == Decide(normalized) and reports the normalized
//     path; a refused path gives REASON_PATH_REJECTED.
//  4. Decide agrees with a deliberately naive reference: a segment-by-
//     segment glob matcher (no regex) and a plain loop over the rules.
//  5. The path, read as a pattern, either fails to compile or matches
//     exactly what the reference matcher says.
// And, under the sanitizers, no crash, leak or undefined behaviour.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/limits.h"
#include "proto/common.pb.h"
#include "rules/http_method.h"
#include "rules/path_normalizer.h"
#include "rules/path_pattern.h"
#include "rules/policy_engine.h"

namespace latchkey::policy {
namespace {

using latchkey::v1::Rule;
using RuleList = google::protobuf::RepeatedPtrField<Rule>;

[[noreturn]] void Fail(const char* what, absl::string_view method,
                       absl::string_view path, absl::string_view detail) {
  std::fprintf(stderr,
               "policy_fuzz invariant broken: %s\n  method: \"%s\"\n  path: "
               "\"%s\"\n  %s\n",
               what, absl::CEscape(method).c_str(), absl::CEscape(path).c_str(),
               std::string(detail).c_str());
  std::abort();
}

// ParseRuleLines reads "ALLOW|DENY METHODS PATTERN" lines; malformed lines
// are skipped (the input is arbitrary bytes).
RuleList ParseRuleLines(absl::string_view text) {
  RuleList rules;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<absl::string_view> f =
        absl::StrSplit(line, absl::MaxSplits(' ', 2));
    if (f.size() != 3) continue;
    Rule r;
    if (f[0] == "ALLOW") {
      r.set_effect(Rule::ALLOW);
    } else if (f[0] == "DENY") {
      r.set_effect(Rule::DENY);
    } else {
      continue;
    }
    for (absl::string_view m : absl::StrSplit(f[1], ',')) {
      r.add_methods(std::string(m));
    }
    r.set_path(std::string(f[2]));
    *rules.Add() = std::move(r);
    if (static_cast<size_t>(rules.size()) >= kMaxRulesPerCapability) break;
  }
  return rules;
}

const char kRulesA[] =
    "ALLOW GET,HEAD /v1/**\n"
    "ALLOW POST /v1/repos/*/issues\n"
    "DENY DELETE /v1/**\n"
    "DENY * /v1/admin/**\n"
    "ALLOW * /v2/*/x/**/y\n"
    "DENY GET /v2/secret/*\n"
    "ALLOW get /a\n";
const char kRulesB[] =
    "ALLOW * /**\n"
    "DENY * /admin\n"
    "DENY * /admin/**\n"
    "DENY POST /**/private/*\n"
    "ALLOW GET /caf%C3%A9/~x/\n";

// Segments of a normalized path or canonical pattern, without the leading
// '/' and one trailing '/'; the root gives none.
std::vector<absl::string_view> Segments(absl::string_view s) {
  if (!s.empty() && s.back() == '/') s.remove_suffix(1);
  if (!s.empty() && s.front() == '/') s.remove_prefix(1);
  if (s.empty()) return {};
  return absl::StrSplit(s, '/');
}

// RefMatch: glob over whole segments by dynamic programming ("*" one
// non-empty segment, "**" any number), independent of the RE2 translation.
bool RefMatch(absl::string_view canonical_pattern, absl::string_view path) {
  const std::vector<absl::string_view> p = Segments(canonical_pattern);
  const std::vector<absl::string_view> s = Segments(path);
  // ok[j]: pattern suffix from i matches path suffix from j; rows i=n..0.
  std::vector<char> next(s.size() + 1, 0), cur(s.size() + 1, 0);
  next[s.size()] = 1;
  for (size_t i = p.size(); i-- > 0;) {
    for (size_t j = s.size() + 1; j-- > 0;) {
      bool m;
      if (p[i] == "**") {
        m = next[j] || (j < s.size() && cur[j + 1]);
      } else if (p[i] == "*") {
        m = j < s.size() && !s[j].empty() && next[j + 1];
      } else {
        m = j < s.size() && s[j] == p[i] && next[j + 1];
      }
      cur[j] = m;
    }
    std::swap(cur, next);
  }
  return next[0];
}

struct RefDecision {
  bool allowed;
  latchkey::v1::ReasonCode code;
  int rule_index;
};

// RefDecide: the documented semantics as a plain loop.
RefDecision RefDecide(const RuleList& rules,
                      const std::vector<std::string>& canonical_patterns,
                      absl::string_view method, absl::string_view path) {
  if (!ValidateRequestMethod(method).ok()) {
    return {false, latchkey::v1::REASON_INVALID_REQUEST, -1};
  }
  auto matches = [&](int i) {
    bool method_ok = false;
    for (const std::string& m : rules.Get(i).methods()) {
      if (m == "*" || absl::AsciiStrToUpper(m) == method) method_ok = true;
    }
    return method_ok && RefMatch(canonical_patterns[i], path);
  };
  // A deny also matches the other spellings servers route alike: without
  // a trailing '/', without a format suffix, in any ASCII case (pattern and
  // path both folded, %XX escapes kept), exact spellings first.
  auto fold = [](absl::string_view text) {
    std::string out(text);
    for (size_t i = 0; i < out.size(); ++i) {
      if (out[i] == '%') {
        i += 2;
      } else if (out[i] >= 'A' && out[i] <= 'Z') {
        out[i] = static_cast<char>(out[i] - 'A' + 'a');
      }
    }
    return out;
  };
  auto spellings = [](const std::string& p) {
    std::vector<std::string> out = {p};
    if (p.size() > 1 && p.back() == '/')
      out.push_back(p.substr(0, p.size() - 1));
    const std::string& last = out.back();
    size_t slash = last.rfind('/');
    size_t dot = last.find('.', slash + 2);
    if (slash != std::string::npos && dot != std::string::npos) {
      out.push_back(last.substr(0, dot));
    }
    return out;
  };
  auto deny_matches = [&](int i, const std::string& spelling, bool folded) {
    bool method_ok = false;
    for (const std::string& m : rules.Get(i).methods()) {
      if (m == "*" || absl::AsciiStrToUpper(m) == method) method_ok = true;
    }
    return method_ok && RefMatch(folded ? fold(canonical_patterns[i])
                                        : canonical_patterns[i],
                                 spelling);
  };
  for (bool folded : {false, true}) {
    for (const std::string& spelling :
         spellings(folded ? fold(path) : std::string(path))) {
      for (int i = 0; i < rules.size(); ++i) {
        if (rules.Get(i).effect() == Rule::DENY &&
            deny_matches(i, spelling, folded)) {
          return {false, latchkey::v1::REASON_RULE_DENY, i};
        }
      }
    }
  }
  for (int i = 0; i < rules.size(); ++i) {
    if (rules.Get(i).effect() == Rule::ALLOW && matches(i)) {
      return {true, latchkey::v1::REASON_ALLOWED, i};
    }
  }
  return {false, latchkey::v1::REASON_NO_RULE_MATCHED, -1};
}

bool SameDecision(const PolicyDecision& a, const PolicyDecision& b) {
  return a.allowed == b.allowed && a.code == b.code &&
         a.rule_index == b.rule_index && a.rule == b.rule;
}

void CheckCanonicalShape(absl::string_view method, absl::string_view raw,
                         absl::string_view n) {
  if (n.empty() || n[0] != '/')
    Fail("output must start with '/'", method, raw, n);
  if (n.size() > kMaxPathBytes) Fail("output over the limit", method, raw, n);
  for (char c : n) {
    if (static_cast<unsigned char>(c) <= 0x20 ||
        static_cast<unsigned char>(c) >= 0x7F || c == '\\' || c == '?' ||
        c == '#') {
      Fail("output has a byte that must be refused or encoded", method, raw, n);
    }
  }
  if (absl::StrContains(n, "//")) Fail("output has '//'", method, raw, n);
  for (absl::string_view seg : Segments(n)) {
    if (seg == "." || seg == "..")
      Fail("output has a dot segment", method, raw, n);
  }
}

void RunOne(const uint8_t* data, size_t size) {
  if (size == 0) return;
  const int selector = data[0] % 4;
  const absl::string_view input(reinterpret_cast<const char*>(data) + 1,
                                size - 1);
  std::vector<absl::string_view> parts =
      absl::StrSplit(input, absl::MaxSplits('\n', 2));
  const absl::string_view method = parts[0];
  const absl::string_view raw = parts.size() > 1 ? parts[1] : "/";
  const absl::string_view rule_text = parts.size() > 2 ? parts[2] : "";

  // The built-in rule sets are compiled once (it keeps executions fast);
  // rules from the input are compiled every time.
  static const RuleList* const kBuiltIn[] = {
      new RuleList(), new RuleList(ParseRuleLines(kRulesA)),
      new RuleList(ParseRuleLines(kRulesB)), new RuleList()};
  static const PolicyEngine* const kBuiltInEngines[] = {
      nullptr, new PolicyEngine(*PolicyEngine::Compile(*kBuiltIn[1])),
      new PolicyEngine(*PolicyEngine::Compile(*kBuiltIn[2])),
      new PolicyEngine(*PolicyEngine::Compile(*kBuiltIn[3]))};

  RuleList rules;
  absl::StatusOr<PolicyEngine> engine;
  if (selector == 0) {
    rules = ParseRuleLines(rule_text);
    engine = PolicyEngine::Compile(rules);
  } else {
    rules = *kBuiltIn[selector];
    engine = *kBuiltInEngines[selector];
  }
  if (!engine.ok()) {
    // Invalid rules must be refused, never half-compiled: check that some
    // rule is indeed refused on its own, then fall back to no rules.
    bool some_rule_bad = false;
    for (const Rule& r : rules) {
      RuleList one;
      *one.Add() = r;
      if (!PolicyEngine::Compile(one).ok()) some_rule_bad = true;
    }
    if (!some_rule_bad) {
      Fail("Compile refused a rule list whose rules compile one by one", method,
           raw, engine.status().ToString());
    }
    rules.Clear();
    engine = PolicyEngine::Compile(rules);
  }
  std::vector<std::string> canonical;
  for (const Rule& r : rules) {
    absl::StatusOr<PathPattern> p = PathPattern::Compile(r.path());
    if (!p.ok())
      Fail("engine accepted a pattern PathPattern refuses", method, raw,
           r.path());
    canonical.push_back(p->pattern());
  }

  const PolicyDecision checked = engine->CheckRequest(method, raw);
  absl::StatusOr<std::string> n = NormalizePath(raw);
  if (!n.ok()) {
    if (checked.code != latchkey::v1::REASON_PATH_REJECTED || checked.allowed) {
      Fail("refused path not reported as REASON_PATH_REJECTED", method, raw,
           checked.message);
    }
    if (n.status().code() != absl::StatusCode::kInvalidArgument) {
      Fail("refusal is not INVALID_ARGUMENT", method, raw,
           n.status().ToString());
    }
    return;
  }

  // 1. Fixed point and shape.
  CheckCanonicalShape(method, raw, *n);
  absl::StatusOr<std::string> n2 = NormalizePath(*n);
  if (!n2.ok())
    Fail("normalized path refused when normalized again", method, raw,
         n2.status().ToString());
  if (*n2 != *n)
    Fail("NormalizePath is not idempotent", method, raw, *n + " -> " + *n2);

  // 2. Same decision on the re-normalized path.
  const PolicyDecision d = engine->Decide(method, *n);
  const PolicyDecision d2 = engine->Decide(method, *n2);
  if (!SameDecision(d, d2))
    Fail("decision changed after re-normalizing", method, raw,
         d.rule + " vs " + d2.rule);

  // 3. CheckRequest is normalize + Decide.
  if (!SameDecision(checked, d) || checked.normalized_path != *n) {
    Fail("CheckRequest differs from NormalizePath + Decide", method, raw,
         checked.rule + " vs " + d.rule);
  }
  if (d.allowed != (d.code == latchkey::v1::REASON_ALLOWED) ||
      (d.rule_index >= 0) != !d.rule.empty() || d.message.empty()) {
    Fail("inconsistent decision fields", method, raw, d.message);
  }

  // 4. Reference semantics.
  const RefDecision ref = RefDecide(rules, canonical, method, *n);
  if (ref.allowed != d.allowed || ref.code != d.code ||
      ref.rule_index != d.rule_index) {
    Fail("Decide disagrees with the reference", method, raw,
         absl::StrCat("engine: ", d.rule_index, " ",
                      latchkey::v1::ReasonCode_Name(d.code),
                      "; reference: ", ref.rule_index, " ",
                      latchkey::v1::ReasonCode_Name(ref.code)));
  }

  // 5. The raw path as a pattern (bounded: the reference is quadratic).
  if (raw.size() <= 512) {
    absl::StatusOr<PathPattern> p = PathPattern::Compile(raw);
    if (p.ok() && p->Matches(*n) != RefMatch(p->pattern(), *n)) {
      Fail("PathPattern disagrees with the reference", method, raw,
           p->pattern() + " regex " + p->regex() + " path " + *n);
    }
  }
}

}  // namespace
}  // namespace latchkey::policy

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  latchkey::policy::RunOne(data, size);
  return 0;
}
