// Microbenchmark for the request policy: a capability with 50 rules, about
// a million decisions over a mix of allowed, denied-by-rule and unmatched
// requests. Reports nanoseconds per Decide (normalized path) and per
// CheckRequest (NormalizePath + Decide). Not a test; run it optimized:
//   bazel run -c opt //rules:policy_bench
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "proto/common.pb.h"
#include "rules/path_normalizer.h"
#include "rules/policy_engine.h"

namespace {

using latchkey::policy::PolicyDecision;
using latchkey::policy::PolicyEngine;
using latchkey::v1::Rule;

void AddRule(google::protobuf::RepeatedPtrField<Rule>* rules,
             Rule::Effect effect, std::vector<std::string> methods,
             std::string path) {
  Rule* r = rules->Add();
  r->set_effect(effect);
  for (std::string& m : methods) r->add_methods(std::move(m));
  r->set_path(std::move(path));
}

// 50 rules shaped like a real API capability.
google::protobuf::RepeatedPtrField<Rule> FiftyRules() {
  google::protobuf::RepeatedPtrField<Rule> rules;
  for (int i = 0; i < 20; ++i) {  // 0..19
    AddRule(&rules, Rule::ALLOW, {"GET", "HEAD"},
            absl::StrCat("/v1/res", i, "/**"));
  }
  for (int i = 0; i < 10; ++i) {  // 20..29
    AddRule(&rules, Rule::ALLOW, {"POST", "PUT"},
            absl::StrCat("/v1/res", i, "/*/items"));
  }
  for (int i = 0; i < 10; ++i) {  // 30..39
    AddRule(&rules, Rule::DENY, {"DELETE"}, absl::StrCat("/v1/res", i, "/**"));
  }
  for (int i = 0; i < 5; ++i) {  // 40..44
    AddRule(&rules, Rule::DENY, {"*"},
            absl::StrCat("/v1/res", i, "/*/secrets/**"));
  }
  for (int i = 0; i < 5; ++i) {  // 45..49
    AddRule(&rules, Rule::ALLOW, {"GET"},
            absl::StrCat("/v2/*/reports", i, "/**/summary"));
  }
  return rules;
}

struct Request {
  const char* method;
  const char* raw_path;
};

// A mix: allowed early and late, denied by a rule, and matching nothing.
const Request kRequests[] = {
    {"GET", "/v1/res0/a/b"},                       // allow rules[0]
    {"GET", "/v1/res19/x"},                        // allow rules[19]
    {"HEAD", "/v1/res7/"},                         // allow rules[7]
    {"POST", "/v1/res3/42/items"},                 // allow rules[23]
    {"PUT", "/v1/res9/42/items/"},                 // allow rules[29]
    {"GET", "/v2/acme/reports4/2024/q1/summary"},  // allow rules[49]
    {"DELETE", "/v1/res5/1"},                      // deny rules[35]
    {"GET", "/v1/res2/7/secrets/k"},               // deny rules[42]
    {"POST", "/v1/res4/7/secrets"},                // deny rules[44]
    {"GET", "/v3/unknown/path"},                   // no rule
    {"PATCH", "/v1/res1/x"},                       // no rule
    {"GET", "/v1/res20/x"},                        // no rule (res20 not listed)
    {"GET", "/v1/res1/a/../b//c/%7Ed"},  // allow rules[1] after normalizing
    {"GET", "/v1/res6/%2e%2e/res0/x"},   // allow rules[0] after normalizing
    {"GET", "/v1/res2/caf\xC3\xA9"},     // allow rules[2], encodes UTF-8
    {"DELETE", "/v1/res0/x/./y"},        // deny rules[30]
};
constexpr int kNumRequests = sizeof(kRequests) / sizeof(kRequests[0]);

}  // namespace

int main() {
  absl::StatusOr<PolicyEngine> engine = PolicyEngine::Compile(FiftyRules());
  if (!engine.ok()) {
    std::fprintf(stderr, "compile: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  std::vector<std::string> normalized;
  for (const Request& r : kRequests) {
    normalized.push_back(*latchkey::policy::NormalizePath(r.raw_path));
  }

  // The machine may be shared (builds, other benchmarks): each measurement
  // is repeated and the minimum (least disturbed) and median are reported.
  constexpr int kRounds = 1'000'000 / kNumRequests;  // ~1e6 operations
  constexpr int kRepetitions = 7;
  int sink = 0;
  auto measure = [&](const char* name, auto&& op) {
    std::vector<double> ns;
    for (int rep = 0; rep < kRepetitions; ++rep) {
      const absl::Time start = absl::Now();
      for (int round = 0; round < kRounds; ++round) {
        for (int i = 0; i < kNumRequests; ++i) sink += op(i);
      }
      ns.push_back(absl::ToDoubleNanoseconds(absl::Now() - start) /
                   (kRounds * kNumRequests));
    }
    std::sort(ns.begin(), ns.end());
    std::printf("%-14s min %7.1f ns/op  median %7.1f ns/op  (%d x %d ops)\n",
                name, ns.front(), ns[ns.size() / 2], kRepetitions,
                kRounds * kNumRequests);
  };

  // Warm up caches and RE2's lazily built DFAs; count the verdict mix.
  int allowed = 0;
  for (int i = 0; i < kNumRequests; ++i) {
    allowed += engine->Decide(kRequests[i].method, normalized[i]).allowed;
  }
  std::printf("50 rules, %d requests in the mix: %d allowed, %d denied\n",
              kNumRequests, allowed, kNumRequests - allowed);

  measure("Decide", [&](int i) {
    return static_cast<int>(
        engine->Decide(kRequests[i].method, normalized[i]).allowed);
  });
  measure("CheckRequest", [&](int i) {
    return static_cast<int>(
        engine->CheckRequest(kRequests[i].method, kRequests[i].raw_path)
            .allowed);
  });
  measure("NormalizePath", [&](int i) {
    return static_cast<int>(
        latchkey::policy::NormalizePath(kRequests[i].raw_path)->size());
  });
  std::printf("(checksum %d)\n", sink);
  return 0;
}
