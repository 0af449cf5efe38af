#include "audit_sink/expected_head.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace latchkey::audit_sink {
namespace {

constexpr size_t kHashHexDigits = 64;

}  // namespace

absl::StatusOr<ExpectedHead> ParseExpectedHead(absl::string_view text) {
  const size_t colon = text.find(':');
  const absl::Status invalid = absl::InvalidArgumentError(absl::StrCat(
      "an expected head is SEQ:HEAD (a record sequence and the 64 hex "
      "digits of its hash, as `latchkeyctl audit checkpoint` prints), not \"",
      text.substr(0, 200), "\""));
  if (colon == absl::string_view::npos) return invalid;
  ExpectedHead head;
  absl::string_view hash = text.substr(colon + 1);
  if (!absl::SimpleAtoi(text.substr(0, colon), &head.sequence) ||
      head.sequence == 0 || hash.size() != kHashHexDigits ||
      !std::all_of(hash.begin(), hash.end(),
                   [](char c) { return absl::ascii_isxdigit(c); })) {
    return invalid;
  }
  head.head_hash = absl::AsciiStrToLower(hash);
  return head;
}

absl::StatusOr<std::vector<ExpectedHead>> ParseExpectedHeads(
    const std::vector<std::string>& texts) {
  std::vector<ExpectedHead> heads;
  for (const std::string& text : texts) {
    for (absl::string_view one :
         absl::StrSplit(text, ',', absl::SkipWhitespace())) {
      absl::StatusOr<ExpectedHead> head =
          ParseExpectedHead(absl::StripAsciiWhitespace(one));
      if (!head.ok()) return head.status();
      heads.push_back(std::move(*head));
    }
  }
  return heads;
}

std::vector<std::string> FlagValues(int argc, char** argv,
                                    absl::string_view name) {
  std::vector<std::string> values;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (!absl::ConsumePrefix(&arg, "--")) {
      if (!absl::ConsumePrefix(&arg, "-")) continue;
    }
    if (!absl::ConsumePrefix(&arg, name)) continue;
    if (absl::ConsumePrefix(&arg, "=")) {
      values.emplace_back(arg);
    } else if (arg.empty() && i + 1 < argc) {
      values.emplace_back(argv[++i]);
    }
  }
  return values;
}

std::string FormatExpectedHead(uint64_t sequence, absl::string_view head_hash) {
  return absl::StrCat(sequence, ":", head_hash);
}

}  // namespace latchkey::audit_sink
