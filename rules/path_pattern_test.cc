// PathPattern: a match table (every path goes through NormalizePath first,
// as in the engine), a table of refused patterns, canonical pattern text,
// and the fixed-point property of every path in the match table.
#include "rules/path_pattern.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rules/path_normalizer.h"

namespace latchkey::policy {
namespace {

struct MatchCase {
  std::string pattern;
  std::string path;  // raw; normalized before matching
  bool matches;
};

const std::vector<MatchCase>& MatchCases() {
  static const auto* v = new std::vector<MatchCase>{
      // Literal patterns; trailing '/' insignificant on both sides.
      {"/v1/admin", "/v1/admin", true},
      {"/v1/admin", "/v1/admin/", true},
      {"/v1/admin/", "/v1/admin", true},
      {"/v1/admin/", "/v1/admin/", true},
      {"/v1/admin", "/v1/admin/x", false},
      {"/v1/admin", "/v1/admins", false},
      {"/v1/admin", "/v1/Admin", false},
      {"/v1/admin", "/v1", false},
      {"/v1/admin", "/v1/", false},
      {"/v1/admin", "/v1/%61dmin", true},
      {"/v1/admin", "/v1/x/../admin", true},
      {"/v1/admin", "/v1//admin", true},
      {"/v1/admin",
       "/v1/\xD0\xB0"
       "dmin",
       false},
      // Root.
      {"/", "/", true},
      {"/", "//", true},
      {"/", "/x", false},
      // '*': exactly one non-empty segment.
      {"/v1/*", "/v1/x", true},
      {"/v1/*", "/v1/x/", true},
      {"/v1/*", "/v1", false},
      {"/v1/*", "/v1/", false},
      {"/v1/*", "/v1/x/y", false},
      {"/v1/*", "/v1//x", true},    // collapses to /v1/x
      {"/v1/*", "/v1/%2e", false},  // "/v1/" once normalized
      {"/v1/*", "/v1/...x", true},
      {"/v1/*", "/v1/%20x", true},
      {"/v1/*", "/v1/*", true},
      {"/v1/*", "/v2/x", false},
      {"/v1/*/issues", "/v1/r/issues", true},
      {"/v1/*/issues", "/v1/issues", false},
      {"/v1/*/issues", "/v1/a/b/issues", false},
      {"/v1/*/issues", "/v1/r/issues/", true},
      {"/*", "/", false},
      {"/*", "/x", true},
      {"/*", "/x/", true},
      {"/*/*", "/x/y", true},
      {"/*/*", "/x", false},
      // '**': zero or more whole segments.
      {"/v1/**", "/v1", true},
      {"/v1/**", "/v1/", true},
      {"/v1/**", "/v1/x", true},
      {"/v1/**", "/v1/x/y/z/", true},
      {"/v1/**", "/v1x", false},
      {"/v1/**", "/v", false},
      {"/v1/**", "/", false},
      {"/v1/**", "/v2/v1", false},
      {"/v1/**", "/v1/../v2", false},
      {"/**", "/", true},
      {"/**", "/x", true},
      {"/**", "/x/y/", true},
      {"/v1/**/x", "/v1/x", true},
      {"/v1/**/x", "/v1/a/x", true},
      {"/v1/**/x", "/v1/a/b/x/", true},
      {"/v1/**/x", "/v1/ax", false},
      {"/v1/**/x", "/v1/x/a", false},
      {"/**/x", "/x", true},
      {"/**/x", "/a/x", true},
      {"/**/x", "/a/xx", false},
      {"/**/**", "/", true},
      {"/**/**", "/a/b", true},
      {"/a/**/b/**/c", "/a/b/c", true},
      {"/a/**/b/**/c", "/a/1/b/2/3/c", true},
      {"/a/**/b/**/c", "/a/1/2/c", false},
      {"/a/*/**", "/a", false},
      {"/a/*/**", "/a/b", true},
      {"/a/*/**", "/a/b/c/d", true},
      {"/a/**/*", "/a", false},
      {"/a/**/*", "/a/b", true},
      // Literal segments are normalized like request paths.
      {"/v1/%7euser", "/v1/~user", true},
      {"/v1/~user", "/v1/%7Euser", true},
      {"/v1/caf\xC3\xA9", "/v1/caf%c3%a9", true},
      {"/v1/caf%C3%A9", "/v1/caf\xC3\xA9", true},
      {"/v1/a%20b", "/v1/a b", true},
      {"/v1/a%3ab", "/v1/a%3Ab", true},
      {"/v1/a%3Ab", "/v1/a:b", false},  // reserved: encoded != raw
      {"/v1/%2A", "/v1/%2a", true},
      {"/v1/%2A", "/v1/*", false},
      {"/v1/%2A", "/v1/x", false},
      // Regex metacharacters are literal.
      {"/v1/a.b", "/v1/a.b", true},
      {"/v1/a.b", "/v1/axb", false},
      {"/v1/(x)+", "/v1/(x)+", true},
      {"/v1/(x)+", "/v1/xx", false},
      {"/v1/$x", "/v1/$x", true},
      {"/v1/a+b", "/v1/aab", false},
      {"/v1/a%5Bb", "/v1/a[b", true},
      {"/v1/a%5Bb", "/v1/ab", false},
  };
  return *v;
}

TEST(PathPatternTest, MatchTable) {
  for (const MatchCase& c : MatchCases()) {
    absl::StatusOr<PathPattern> p = PathPattern::Compile(c.pattern);
    ASSERT_TRUE(p.ok()) << c.pattern << ": " << p.status();
    absl::StatusOr<std::string> path = NormalizePath(c.path);
    if (!path.ok()) {
      ADD_FAILURE() << absl::CEscape(c.path) << ": " << path.status();
      continue;
    }
    EXPECT_EQ(p->Matches(*path), c.matches)
        << "pattern " << c.pattern << " (regex " << p->regex() << ") path "
        << *path;
  }
}

TEST(PathPatternTest, EveryTablePathIsAFixedPoint) {
  for (const MatchCase& c : MatchCases()) {
    absl::StatusOr<std::string> once = NormalizePath(c.path);
    if (!once.ok()) continue;  // MatchTable reports it
    absl::StatusOr<std::string> twice = NormalizePath(*once);
    ASSERT_TRUE(twice.ok()) << *once;
    EXPECT_EQ(*twice, *once);
    // A pattern's verdict cannot change by normalizing again.
    absl::StatusOr<PathPattern> p = PathPattern::Compile(c.pattern);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->Matches(*once), p->Matches(*twice));
  }
}

struct RefusedPattern {
  std::string pattern;
  std::string why;
};

TEST(PathPatternTest, RefusedPatterns) {
  const std::vector<RefusedPattern> refused = {
      {"", "must start with '/'"},
      {"v1/x", "must start with '/'"},
      {"*", "must start with '/'"},
      {"/v1/x?y=1", "'?'"},
      {"/v1/x#y", "'#'"},
      {"/v1/ab*", "'*' inside the segment"},
      {"/v1/*.json", "'*' inside the segment"},
      {"/v1/***", "'*' inside the segment"},
      {"/v1/*x*", "'*' inside the segment"},
      {"/v1//x", "empty segment"},
      {"//", "empty segment"},
      {"//v1", "empty segment"},
      {"/v1//", "empty segment"},
      {"/v1/./x", "'.' or '..' segment"},
      {"/v1/../x", "'.' or '..' segment"},
      {"/v1/%2e%2e/x", "'.' or '..' segment"},
      {"/v1/.", "'.' or '..' segment"},
      {"/..", "'.' or '..' segment"},
      {"/v1/a%2Fb", "%2F"},
      {"/v1/a%5cb", "%5C"},
      {"/v1/a\\b", "backslash"},
      {"/v1/a%00", "NUL"},
      {"/v1/a\tb", "TAB"},
      {"/v1/%C0%AF", "UTF-8"},
      {"/v1/%zz", "malformed"},
      {"/v1/..;", "';'"},
      {"/" + std::string(5000, 'a'), "longer than"},
  };
  for (const RefusedPattern& c : refused) {
    absl::StatusOr<PathPattern> p = PathPattern::Compile(c.pattern);
    ASSERT_FALSE(p.ok()) << c.pattern << " compiled to " << p->regex();
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(p.status().message(), c.why))
        << absl::CEscape(c.pattern.substr(0, 80)) << ": " << p.status();
  }
}

TEST(PathPatternTest, CanonicalTextAndRegex) {
  struct Case {
    std::string in, canonical, regex;
  };
  const std::vector<Case> cases = {
      {"/", "/", ""},
      {"/v1/**", "/v1/**", "/v1(?:/[^/]+)*"},
      {"/v1/*/x/", "/v1/*/x/", "/v1/[^/]+/x"},
      {"/v1/%7e%41", "/v1/~A", "/v1/\\~A"},
      {"/v1/caf\xC3\xA9", "/v1/caf%C3%A9", "/v1/caf\\%C3\\%A9"},
      {"/a.b", "/a.b", "/a\\.b"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<PathPattern> p = PathPattern::Compile(c.in);
    ASSERT_TRUE(p.ok()) << c.in << ": " << p.status();
    EXPECT_EQ(p->pattern(), c.canonical);
    EXPECT_EQ(p->regex(), c.regex);
    // The canonical text compiles to the same pattern.
    absl::StatusOr<PathPattern> again = PathPattern::Compile(p->pattern());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->pattern(), p->pattern());
    EXPECT_EQ(again->regex(), p->regex());
  }
}

// A pattern is shared, not recompiled, when copied.
TEST(PathPatternTest, CopiesShareTheCompiledRegex) {
  absl::StatusOr<PathPattern> p = PathPattern::Compile("/v1/*/x");
  ASSERT_TRUE(p.ok());
  PathPattern copy = *p;
  EXPECT_EQ(&copy.regex(), &p->regex());
  EXPECT_TRUE(copy.Matches("/v1/a/x"));
}

// Many wildcards in one long path stay linear (RE2): this would take
// exponential time with a backtracking matcher.
TEST(PathPatternTest, ManyDoubleStarsStayFast) {
  std::string pattern;
  for (int i = 0; i < 50; ++i) pattern += "/**/a";
  pattern += "/b";
  absl::StatusOr<PathPattern> p = PathPattern::Compile(pattern);
  ASSERT_TRUE(p.ok()) << p.status();
  std::string path;
  for (int i = 0; i < 2000; ++i) path += "/a";
  EXPECT_FALSE(p->Matches(path));
  EXPECT_TRUE(p->Matches(path + "/b"));
}

}  // namespace
}  // namespace latchkey::policy
