// Runs the libFuzzer entry point of policy_fuzz.cc as an ordinary test:
// over every request of the decision table (against its own rule set, the
// fuzzer's built-in sets and no rules), then over a few thousand
// deterministic mutations of those inputs. An invariant failure aborts the
// process with a description, which fails this test. Bounded: it visits a
// fixed number of inputs (well under 5 s, also under ASan).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common/limits.h"
#include "gtest/gtest.h"
#include "rules/policy_test_cases.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace latchkey::policy {
namespace {

constexpr int kMutations = 4000;

void Feed(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                         input.size());
}

std::string Encode(char selector, const std::string& method,
                   const std::string& path, const std::string& rules) {
  return std::string(1, selector) + method + "\n" + path + "\n" + rules;
}

std::string RulesText(const std::string& name) {
  for (const auto& [set_name, text] : cases::RuleSets()) {
    if (set_name == name) return text;
  }
  return "";
}

std::vector<std::string> Seeds() {
  std::vector<std::string> seeds;
  for (const cases::PolicyCase& c : cases::PolicyCases()) {
    seeds.push_back(Encode(0, c.method, c.raw_path, RulesText(c.rule_set)));
    for (char selector : {1, 2, 3}) {
      seeds.push_back(Encode(selector, c.method, c.raw_path, ""));
    }
  }
  // Rules the fuzzer can only reach by parsing: invalid ones included.
  seeds.push_back(Encode(0, "GET", "/a/b", "ALLOW GET /a*\nALLOW GET /a/*"));
  seeds.push_back(Encode(0, "GET", "/a/b", "ALLOW ,GET /a/**"));
  seeds.push_back(Encode(0, "GET", "/a/b", "DENY get /**/b\nALLOW * /**"));
  return seeds;
}

// Tokens that matter to the normalizer and the matcher.
const char* const kTokens[] = {"/",
                               "//",
                               ".",
                               "..",
                               "/../",
                               "/./",
                               "%2e",
                               "%2E",
                               "%2f",
                               "%2F",
                               "%5c",
                               "%5C",
                               "\\",
                               "%00",
                               "%0d%0a",
                               "\t",
                               "%",
                               "%25",
                               "%C0%AF",
                               "%C0%AE",
                               "\xC0\xAF",
                               "\xEF\xBC\x8F",
                               "%E2%88%95",
                               "\xD0\xB0",
                               "%C3%A9",
                               "\xC3",
                               "%C3",
                               ";",
                               "%3B",
                               "..;",
                               "*",
                               "**",
                               "/*/",
                               "/**/",
                               "?",
                               "#",
                               "~",
                               "%7e",
                               " ",
                               "%ED%A0%80",
                               "%F4%90%80%80",
                               "admin",
                               "v1"};

std::string Mutate(std::string s, std::mt19937& rng) {
  auto pick = [&rng](size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  };
  const int steps = 1 + static_cast<int>(pick(4));
  for (int k = 0; k < steps; ++k) {
    switch (pick(6)) {
      case 0:  // insert a token
        s.insert(1 + pick(s.size()), kTokens[pick(std::size(kTokens))]);
        break;
      case 1:  // flip a byte (not the selector)
        if (s.size() > 1) s[1 + pick(s.size() - 1)] ^= 1 << pick(8);
        break;
      case 2:  // set a byte to any value
        if (s.size() > 1)
          s[1 + pick(s.size() - 1)] = static_cast<char>(pick(256));
        break;
      case 3:  // erase a range
        if (s.size() > 2) {
          size_t at = 1 + pick(s.size() - 1);
          s.erase(at, 1 + pick(8));
        }
        break;
      case 4:  // duplicate a range
        if (s.size() > 2) {
          size_t at = 1 + pick(s.size() - 1);
          s.insert(at, s.substr(at, 1 + pick(16)));
        }
        break;
      default:  // change the rule selector
        s[0] = static_cast<char>(pick(4));
        break;
    }
  }
  return s;
}

TEST(PolicyFuzzSmokeTest, TableRequestsKeepTheInvariants) {
  const std::vector<std::string> seeds = Seeds();
  ASSERT_GT(seeds.size(), 600u);
  for (const std::string& s : seeds) Feed(s);
}

TEST(PolicyFuzzSmokeTest, DeterministicMutationsKeepTheInvariants) {
  // Mutate only seeds of a sane size: the 1 MiB path row is run once above
  // and copying it thousands of times would only slow the test down.
  std::vector<std::string> seeds;
  for (std::string& s : Seeds()) {
    if (s.size() <= 3 * kMaxPathBytes) seeds.push_back(std::move(s));
  }
  std::mt19937 rng(20240611);  // fixed: a failure reproduces exactly
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kMutations; ++i) {
    std::string input = Mutate(
        seeds[std::uniform_int_distribution<size_t>(0, seeds.size() - 1)(rng)],
        rng);
    Feed(input);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf("%d mutated inputs in %.2f s\n", kMutations, seconds);
}

TEST(PolicyFuzzSmokeTest, DegenerateInputs) {
  Feed("");
  Feed(std::string(1, '\0'));
  Feed(std::string("\0\n", 2));
  Feed(std::string("\x01GET\n", 5));
  Feed(std::string("\x00GET\n/\nALLOW", 13));
  Feed(std::string("\x02\n\n\n\n", 5));
}

}  // namespace
}  // namespace latchkey::policy
