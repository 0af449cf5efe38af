// PathPattern: one rule's path pattern, validated and compiled to RE2 once.
//
// Syntax, segment by segment (segments are separated by '/'):
//   "*"   exactly one non-empty segment          "/v1/repos/*/issues"
//   "**"  zero or more whole segments            "/v1/**", "/v1/**/x"
//   other a literal segment, compared byte for byte (case-sensitive) after
//         the same normalization as request paths, so "%7e" == "~" and
//         "café" == "caf%C3%A9"; a literal '*' is written "%2A".
// Refused patterns: not starting with '/'; containing '?' or '#'; '*' inside
// a segment ("ab*", "*.json", "***"): partial-segment globs are not
// supported, so a segment is either a wildcard or literal, never a guess;
// an empty segment ("/v1//x"); a "." or ".." segment; anything the path
// normalizer refuses (%2F, control bytes, bad UTF-8, ...); longer than
// kMaxPathBytes.
//
// Trailing slashes are NOT significant when matching, on either side:
// "/v1/x" and "/v1/x/" match the same paths, and each matches both "/v1/x"
// and "/v1/x/". Why: the normalized path keeps its trailing '/' for the
// upstream, and if matching depended on it, "DELETE /v1/x/" would slip past
// a "DENY DELETE /v1/x" rule. So "/v1/**" matches "/v1", "/v1/" and
// everything below "/v1/"; "/**" matches every path including "/"; the
// pattern "/" matches only "/".
//
// Matching is RE2 (linear time, no backtracking) with a literal-prefix
// pre-check; a PathPattern is immutable and safe to share across threads.
#ifndef LATCHKEY_RULES_PATH_PATTERN_H_
#define LATCHKEY_RULES_PATH_PATTERN_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace latchkey::policy {

class PathPattern {
 public:
  // Compile validates `pattern` (see above); INVALID_ARGUMENT says why.
  static absl::StatusOr<PathPattern> Compile(absl::string_view pattern);

  // Matches takes a path produced by NormalizePath. Other input is not
  // refused but may not match as expected: callers normalize first.
  bool Matches(absl::string_view normalized_path) const;

  // pattern is the canonical text: literals normalized, trailing '/' kept as
  // written. regex is the RE2 source, for tests and debugging.
  const std::string& pattern() const { return pattern_; }
  const std::string& regex() const;

 private:
  PathPattern() = default;

  std::string pattern_;
  // How Matches decides. RE2 is always compiled and is the reference; the
  // two shortcuts are exact equivalents for the most common shapes (the
  // fuzzer checks all three against a naive matcher).
  enum class Kind {
    kLiteral,  // no wildcard: path == literal_prefix_
    kSubtree,  // "<literal>/**": path is literal_prefix_ or below it
    kRegex,    // anything else: prefix pre-check, then RE2
  };
  Kind kind_ = Kind::kRegex;
  // Every matching path (trailing '/' removed) starts with literal_prefix_,
  // the literal segments before the first wildcard.
  std::string literal_prefix_;
  // The first wildcard is "**": a match continues the prefix with '/' or
  // ends there ("/v1/**" must not run RE2 on "/v1x").
  bool slash_after_prefix_ = false;
  // Shared so that patterns (and engines holding them) are cheap to copy;
  // RE2 is thread-safe for const use.
  std::shared_ptr<const re2::RE2> re_;
};

}  // namespace latchkey::policy

#endif  // LATCHKEY_RULES_PATH_PATTERN_H_
