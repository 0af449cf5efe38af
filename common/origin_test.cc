#include "common/origin.h"

#include "gtest/gtest.h"

namespace latchkey {
namespace {

TEST(OriginTest, CanonicalForms) {
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {
      {"https://api.github.com", "https://api.github.com:443"},
      {"HTTPS://API.GitHub.com/", "https://api.github.com:443"},
      {"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
      {"http://localhost", "http://localhost:80"},
      {"https://api.example.com.:8443", "https://api.example.com:8443"},
      {"http://[::1]:9000", "http://[::1]:9000"},
  };
  for (const Case& c : cases) {
    auto origin = ParseOrigin(c.in);
    ASSERT_TRUE(origin.ok()) << c.in << ": " << origin.status();
    EXPECT_EQ(origin->ToString(), c.out) << c.in;
  }
}

TEST(OriginTest, RefusesAmbiguousOrDangerousForms) {
  const char* bad[] = {
      "api.github.com",
      "ftp://example.com",
      "https://",
      "https://user@api.example.com",
      "https://api.example.com@127.0.0.1",
      "https://api.example.com/path",
      "https://api.example.com?x=1",
      "https://api.example.com#frag",
      "https://api.example.com:0",
      "https://api.example.com:65536",
      "https://api.example.com:",
      "https://api.example.com:80x",
      "https://api.exa mple.com",
      "https://api.example.com%2f@evil",
      "https://api\r\n.example.com",
      "https://..example.com",
      "https://[::1",
      "https://[::1]x",
      "https://\\evil.com",
      "https://ex\xc3\xa4mple.com",
  };
  for (const char* text : bad) {
    EXPECT_FALSE(ParseOrigin(text).ok()) << text;
  }
}

}  // namespace
}  // namespace latchkey
