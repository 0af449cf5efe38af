// NormalizePath: a table of accepted inputs with their canonical form, a
// table of refused inputs with a fragment of the reason, exhaustive checks
// over every byte value raw and percent-encoded, and the fixed-point
// property over every accepted input of all of them.
#include "rules/path_normalizer.h"

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/limits.h"
#include "gtest/gtest.h"

namespace latchkey::policy {
namespace {

using std::string_literals::operator""s;

struct Accepted {
  std::string in;
  std::string out;
};

struct Refused {
  std::string in;
  std::string why;  // a fragment of the error message
};

std::string Repeat(absl::string_view s, size_t n) {
  std::string r;
  for (size_t i = 0; i < n; ++i) r.append(s.data(), s.size());
  return r;
}

const std::vector<Accepted>& AcceptedCases() {
  static const auto* v = new std::vector<Accepted>{
      // Already canonical.
      {"/", "/"},
      {"/v1", "/v1"},
      {"/v1/", "/v1/"},
      {"/v1/repos/o/r/issues", "/v1/repos/o/r/issues"},
      {"/a:b@c!$&'()*+,=", "/a:b@c!$&'()*+,="},
      {"/-._~", "/-._~"},
      // Slashes collapse, a trailing one is kept.
      {"//", "/"},
      {"///", "/"},
      {"//a", "/a"},
      {"/a//b", "/a/b"},
      {"/a///b//", "/a/b/"},
      {"/a/b/", "/a/b/"},
      // Dot segments (RFC 3986 5.2.4 and its examples).
      {"/.", "/"},
      {"/./", "/"},
      {"/./a", "/a"},
      {"/a/.", "/a/"},
      {"/a/./", "/a/"},
      {"/a/./b", "/a/b"},
      {"/a/..", "/"},
      {"/a/../", "/"},
      {"/a/b/..", "/a/"},
      {"/a/b/../", "/a/"},
      {"/a/b/../c", "/a/c"},
      {"/a/b/c/./../../g", "/a/g"},
      {"/mid/content=5/../6", "/mid/6"},
      {"/a/b/../../c/", "/c/"},
      {"/a//..", "/"},  // collapse first: "/a/.."
      {"/a/.//b", "/a/b"},
      {"/..a", "/..a"},
      {"/.well-known/x", "/.well-known/x"},
      // Dot segments produced by decoding.
      {"/a/%2e", "/a/"},
      {"/a/%2E/b", "/a/b"},
      {"/a/b/%2e%2e", "/a/"},
      {"/a/b/%2E%2E/c", "/a/c"},
      {"/a/b/.%2e/c", "/a/c"},
      {"/a/b/%2e./c", "/a/c"},
      // Unreserved characters are decoded.
      {"/%41%5A%61%7A%30%39", "/AZaz09"},
      {"/%2D%2E%5F%7E", "/-._~"},
      {"/%2d%5f%7e", "/-_~"},
      {"/%7Euser", "/~user"},
      // Other escapes are kept, hex upper-cased.
      {"/%3a%40", "/%3A%40"},
      {"/%3F%23", "/%3F%23"},
      {"/%3f", "/%3F"},
      {"/%2A", "/%2A"},
      // An encoded ';' is no path parameter (servers split on the raw one),
      // and an encoded '%' that starts no second escape decodes once only.
      {"/v1/admin%3bx/users", "/v1/admin%3Bx/users"},
      {"/50%25.txt", "/50%25.txt"},
      {"/%25", "/%25"},
      {"/%21%24%26%27%28%29%2A%2B%2C%3D", "/%21%24%26%27%28%29%2A%2B%2C%3D"},
      {"/%22%3C%3E%5B%5D%5E%60%7B%7C%7D", "/%22%3C%3E%5B%5D%5E%60%7B%7C%7D"},
      // Raw characters that are not valid in a path are encoded.
      {"/a b", "/a%20b"},
      {"/\"<>[]^`{|}", "/%22%3C%3E%5B%5D%5E%60%7B%7C%7D"},
      // UTF-8: raw, encoded (any case) and mixed give one form.
      {"/caf\xC3\xA9", "/caf%C3%A9"},
      {"/caf%C3%A9", "/caf%C3%A9"},
      {"/caf%c3%a9", "/caf%C3%A9"},
      {"/caf\xC3%A9", "/caf%C3%A9"},
      {"/caf%C3\xA9", "/caf%C3%A9"},
      {"/\xE2\x82\xAC", "/%E2%82%AC"},         // U+20AC
      {"/\xF0\x9F\x94\x91", "/%F0%9F%94%91"},  // U+1F511
      {"/\xEF\xBF\xBF", "/%EF%BF%BF"},         // U+FFFF
      {"/\xF4\x8F\xBF\xBF", "/%F4%8F%BF%BF"},  // U+10FFFF
      {"/\xC2\x80", "/%C2%80"},                // U+0080
      {"/\xE0\xA0\x80", "/%E0%A0%80"},         // U+0800
      {"/\xF0\x90\x80\x80", "/%F0%90%80%80"},  // U+10000
      {"/\xED\x9F\xBF", "/%ED%9F%BF"},         // U+D7FF
      {"/\xEE\x80\x80", "/%EE%80%80"},         // U+E000
      // Lookalikes that no normalization folds into ASCII stay what they
      // are (compatibility forms are refused: see RefusedCases).
      {"/v1/\xD0\xB0"
       "dmin",
       "/v1/%D0%B0dmin"},  // Cyrillic a
      // Limits: raw and normalized lengths up to kMaxPathBytes.
      {"/" + Repeat("a", kMaxPathBytes - 1),
       "/" + Repeat("a", kMaxPathBytes - 1)},
      {"/" + Repeat("%61", (kMaxPathBytes - 1) / 3),
       "/" + Repeat("a", (kMaxPathBytes - 1) / 3)},
      {"/" + Repeat("\xC3\xA9", (kMaxPathBytes - 1) / 6),
       "/" + Repeat("%C3%A9", (kMaxPathBytes - 1) / 6)},
      {Repeat("/", kMaxPathBytes), "/"},
      {"/" + Repeat("a/", 600) + Repeat("../", 600), "/"},
  };
  return *v;
}

const std::vector<Refused>& RefusedCases() {
  static const auto* v = new std::vector<Refused>{
      {"", "empty"},
      {"a", "must start with '/'"},
      {"v1/x", "must start with '/'"},
      {"http://h/x", "must start with '/'"},
      {"%2F", "must start with '/'"},
      {"\\x", "must start with '/'"},
      {"/x?y", "query"},
      {"/x?", "query"},
      {"/x#y", "fragment"},
      {"/%2F", "%2F"},
      {"/%2f", "%2F"},
      {"/a%2Fb", "%2F"},
      {"/a/..%2F..%2Fb", "%2F"},
      {"/%5C", "%5C"},
      {"/%5c", "%5C"},
      {"/a\\b", "backslash"},
      {"/..\\", "backslash"},
      {"/%00", "NUL"},
      {"/a\0b"s, "NUL"},
      {"/\0"s, "NUL"},
      {"/%0A", "LF"},
      {"/%0d", "CR"},
      {"/%0D%0AHost:x", "CR"},
      {"/a\r\nb", "CR"},
      {"/a\nb", "LF"},
      {"/a\tb", "TAB"},
      {"/%09", "TAB"},
      {"/%1F", "0x1F"},
      {"/\x1b[31m", "0x1B"},
      {"/%7F", "DEL"},
      {"/\x7F", "DEL"},
      {"/%", "malformed percent escape"},
      {"/%4", "malformed percent escape"},
      {"/a%", "malformed percent escape"},
      {"/%G0", "malformed percent escape"},
      {"/%0G", "malformed percent escape"},
      {"/% 1", "malformed percent escape"},
      {"/%%41", "malformed percent escape"},
      {"/%u002e", "malformed percent escape"},
      {"/%-1", "malformed percent escape"},
      // Invalid UTF-8, raw and encoded.
      {"/%C0%AF", "UTF-8"},  // overlong '/'
      {"/\xC0\xAF", "UTF-8"},
      {"/%C0%AE", "UTF-8"},  // overlong '.'
      {"/%C0%AE%C0%AE/x", "UTF-8"},
      {"/%C1%9C", "UTF-8"},  // overlong '\'
      {"/%C1%BF", "UTF-8"},
      {"/%E0%80%AF", "UTF-8"},        // 3-byte overlong '/'
      {"/%E0%9F%BF", "UTF-8"},        // 3-byte overlong U+07FF
      {"/%F0%80%80%AF", "UTF-8"},     // 4-byte overlong '/'
      {"/%F0%8F%BF%BF", "UTF-8"},     // 4-byte overlong U+FFFF
      {"/%F8%88%80%80%80", "UTF-8"},  // 5-byte form
      {"/%FC%80%80%80%80%AF", "UTF-8"},
      {"/%ED%A0%80", "UTF-8"},  // U+D800
      {"/%ED%BF%BF", "UTF-8"},  // U+DFFF
      {"/\xED\xA0\x80", "UTF-8"},
      {"/%F4%90%80%80", "UTF-8"},  // U+110000
      {"/%F5%80%80%80", "UTF-8"},
      {"/%FE", "UTF-8"},
      {"/%FF", "UTF-8"},
      {"/\xFF", "UTF-8"},
      {"/%80", "UTF-8"},  // stray continuation
      {"/\xBF", "UTF-8"},
      {"/%C3", "UTF-8"},  // truncated at end
      {"/\xC3", "UTF-8"},
      {"/%E2%82", "UTF-8"},
      {"/%C3/", "UTF-8"},    // truncated by '/'
      {"/%C3%41", "UTF-8"},  // ASCII escape inside a sequence
      {"/\xC3"
       "A",
       "UTF-8"},
      {"/%C3%C3%A9", "UTF-8"},
      // '..' above the root is refused, never clamped.
      {"/..", "above the root"},
      {"/../", "above the root"},
      {"/../a", "above the root"},
      {"/a/../..", "above the root"},
      {"/a/../../b", "above the root"},
      {"/%2e%2e", "above the root"},
      {"/%2E%2E/a", "above the root"},
      {"/.%2e/", "above the root"},
      {"//..//a", "above the root"},
      {"/./..", "above the root"},
      {"/" + Repeat("a/", 100) + Repeat("../", 101), "above the root"},
      // Dot segments with parameters.
      {"/a/..;/b", "';'"},
      {"/a/..;x=1/b", "';'"},
      {"/a/.;/b", "';'"},
      {"/a/%2e%2e;", "';'"},
      // Path parameters anywhere: servlet containers strip them.
      {"/v1/admin;x=1/users", "';'"},
      // One level of encoding only.
      {"/%252F", "(%25)"},
      {"/%252e%252e/admin", "(%25)"},
      // Trailing dots and spaces, NTFS streams (Windows servers).
      {"/v1/admin./users", "ends with '.'"},
      {"/v1/admin%20/users", "ends with '.' or a space"},
      {"/%20", "a space"},
      {"/v1/admin::$DATA", "NTFS stream"},
      // Compatibility and case-folding forms of ASCII.
      {"/v1/\xEF\xBD\x81"
       "dmin",
       "plain ASCII"},
      {"/v1/%EF%BD%81dmin", "plain ASCII"},
      {"/v1/\xE2\x84\xAA"
       "ey",
       "plain ASCII"},
      {"/v1/\xC5\xBF"
       "ecret",
       "plain ASCII"},
      {"/v1/\xEF\xAC\x81le", "plain ASCII"},
      {"/v1/a\xE2\x80\xA4"
       "json",
       "plain ASCII"},
      {"/...", "ends with '.'"},
      {"/a/..%3B/b", "';' parameters"},
      {"/a/..%3b", "';' parameters"},
      // Length.
      {"/" + Repeat("a", kMaxPathBytes), "more than the limit"},
      {Repeat("/", kMaxPathBytes + 1), "more than the limit"},
      {"/" + Repeat("\xC3\xA9", (kMaxPathBytes - 1) / 6 + 1), "once non-ASCII"},
      {"/" + Repeat(" ", kMaxPathBytes / 3 + 1) + "a", "once non-ASCII"},
  };
  return *v;
}

std::vector<std::string> AllAcceptedInputs();

TEST(PathNormalizerTest, AcceptedTable) {
  for (const Accepted& c : AcceptedCases()) {
    absl::StatusOr<std::string> got = NormalizePath(c.in);
    if (!got.ok()) {
      ADD_FAILURE() << absl::CEscape(c.in) << ": " << got.status();
      continue;
    }
    EXPECT_EQ(*got, c.out) << absl::CEscape(c.in);
  }
}

TEST(PathNormalizerTest, RefusedTable) {
  for (const Refused& c : RefusedCases()) {
    absl::StatusOr<std::string> got = NormalizePath(c.in);
    ASSERT_FALSE(got.ok()) << absl::CEscape(c.in.substr(0, 100)) << " -> "
                           << absl::CEscape(*got);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(got.status().message(), c.why))
        << absl::CEscape(c.in.substr(0, 100)) << ": " << got.status();
    // Messages are for a model to act on: they say what is wrong and
    // never echo unescaped control bytes back.
    for (char ch : got.status().message()) {
      EXPECT_FALSE(static_cast<unsigned char>(ch) < 0x20) << got.status();
    }
  }
}

// Every %XX: unreserved decoded, '/', '\' and controls refused, bytes
// >= 0x80 refused alone (not UTF-8), everything else kept upper-cased.
TEST(PathNormalizerTest, EveryPercentEscape) {
  for (int v = 0; v < 256; ++v) {
    for (bool lower : {false, true}) {
      std::string hex =
          lower ? absl::StrFormat("%02x", v) : absl::StrFormat("%02X", v);
      const std::string in = absl::StrCat("/a", "%", hex, "b");
      absl::StatusOr<std::string> got = NormalizePath(in);
      const char c = static_cast<char>(v);
      const bool unreserved =
          absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
          c == '.' || c == '_' || c == '~';
      if (v == '/' || v == '\\' || v < 0x20 || v == 0x7F || v >= 0x80) {
        EXPECT_FALSE(got.ok()) << in;
      } else if (unreserved) {
        ASSERT_TRUE(got.ok()) << in << got.status();
        EXPECT_EQ(*got, absl::StrCat("/a", std::string(1, c), "b")) << in;
      } else {
        ASSERT_TRUE(got.ok()) << in << got.status();
        EXPECT_EQ(*got, absl::StrFormat("/a%%%02Xb", v)) << in;
      }
    }
  }
}

// Every raw byte: controls, '\', '?', '#' and lone bytes >= 0x80 refused;
// pchar kept; other printable ASCII percent-encoded; '%' needs hex.
TEST(PathNormalizerTest, EveryRawByte) {
  const std::string pchar_extra = "!$&'()*+,=:@-._~/";
  for (int v = 0; v < 256; ++v) {
    const char c = static_cast<char>(v);
    const std::string in = absl::StrCat("/a", std::string(1, c), "b");
    absl::StatusOr<std::string> got = NormalizePath(in);
    if (v < 0x20 || v == 0x7F || v >= 0x80 || c == '\\' || c == '?' ||
        c == '#' || c == '%' || c == ';') {
      EXPECT_FALSE(got.ok()) << absl::CEscape(in);
    } else if (absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
               pchar_extra.find(c) != std::string::npos) {
      ASSERT_TRUE(got.ok()) << absl::CEscape(in) << got.status();
      EXPECT_EQ(*got, in);
    } else {
      ASSERT_TRUE(got.ok()) << absl::CEscape(in) << got.status();
      EXPECT_EQ(*got, absl::StrFormat("/a%%%02Xb", v));
    }
  }
}

// Every 2-byte lead with every continuation byte, raw and encoded, agrees
// with the Unicode definition: C2..DF followed by 80..BF only.
TEST(PathNormalizerTest, EveryTwoByteSequence) {
  for (int lead = 0x80; lead < 0x100; ++lead) {
    for (int cont = 0x00; cont < 0x100; cont += 0x11) {
      // U+00AA (ordinal indicator) is valid UTF-8 but folds to 'a'.
      const bool valid = lead >= 0xC2 && lead <= 0xDF && cont >= 0x80 &&
                         cont <= 0xBF && !(lead == 0xC2 && cont == 0xAA);
      const std::string raw =
          absl::StrCat("/", std::string(1, static_cast<char>(lead)),
                       std::string(1, static_cast<char>(cont)));
      const std::string enc = absl::StrFormat("/%%%02X%%%02X", lead, cont);
      if (valid) {
        EXPECT_EQ(NormalizePath(raw).value_or("err"), enc);
        EXPECT_EQ(NormalizePath(enc).value_or("err"), enc);
      } else {
        EXPECT_FALSE(NormalizePath(enc).ok()) << enc;
        EXPECT_FALSE(NormalizePath(raw).ok()) << enc;
      }
    }
  }
}

// NormalizePath(NormalizePath(x)) == NormalizePath(x) for every accepted
// input above, and the output is printable ASCII in canonical shape.
TEST(PathNormalizerTest, IdempotentOnEveryAcceptedInput) {
  int checked = 0;
  for (const std::string& in : AllAcceptedInputs()) {
    absl::StatusOr<std::string> once = NormalizePath(in);
    if (!once.ok()) continue;
    ++checked;
    absl::StatusOr<std::string> twice = NormalizePath(*once);
    ASSERT_TRUE(twice.ok())
        << absl::CEscape(in) << " -> " << *once << ": " << twice.status();
    EXPECT_EQ(*twice, *once) << absl::CEscape(in);
    EXPECT_LE(once->size(), kMaxPathBytes);
    EXPECT_EQ((*once)[0], '/');
    EXPECT_FALSE(absl::StrContains(*once, "//")) << *once;
    EXPECT_FALSE(absl::StrContains(*once, "/./")) << *once;
    EXPECT_FALSE(absl::StrContains(*once, "/../")) << *once;
    EXPECT_FALSE(absl::EndsWith(*once, "/.")) << *once;
    EXPECT_FALSE(absl::EndsWith(*once, "/..")) << *once;
    for (char ch : *once) {
      EXPECT_TRUE(ch > 0x20 && ch < 0x7F) << absl::CEscape(*once);
    }
  }
  EXPECT_GT(checked, 400);
}

std::vector<std::string> AllAcceptedInputs() {
  std::vector<std::string> all;
  for (const Accepted& c : AcceptedCases()) {
    all.push_back(c.in);
    all.push_back(c.out);
  }
  for (int v = 0; v < 256; ++v) {
    all.push_back(absl::StrFormat("/a%%%02Xb", v));
    all.push_back(absl::StrFormat("/a%%%02xb/", v));
    all.push_back(
        absl::StrCat("/a", std::string(1, static_cast<char>(v)), "b"));
  }
  return all;
}

TEST(PathNormalizerTest, ErrorsNameTheOffendingByteOffset) {
  absl::StatusOr<std::string> got = NormalizePath("/v1/x%2Fy");
  ASSERT_FALSE(got.ok());
  EXPECT_TRUE(absl::StrContains(got.status().message(), "at byte 5"))
      << got.status();
}

}  // namespace
}  // namespace latchkey::policy
