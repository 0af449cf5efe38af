// StreamScrubber must find a credential however the body is cut into
// chunks: every split point of every encoded form, every chunk size.
#include "vault/stream_scrubber.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace latchkey::vault {
namespace {

constexpr char kSecret[] = "ghp_S3cr3t/Token+Value=with spaces";

std::vector<std::string> EncodedForms() {
  std::string hex = absl::BytesToHexString(kSecret);
  return {kSecret,
          absl::Base64Escape(kSecret),
          absl::WebSafeBase64Escape(kSecret),
          hex,
          absl::AsciiStrToUpper(hex),
          "ghp_S3cr3t%2FToken%2BValue%3Dwith%20spaces",
          "ghp_S3cr3t%2fToken%2bValue%3dwith%20spaces",
          "ghp_S3cr3t%2FToken%2BValue%3Dwith+spaces"};
}

// ScrubInChunks feeds `body` in pieces cut at `cuts` (ascending offsets).
std::string ScrubInChunks(const ResponseScrubber& scrubber,
                          const std::string& body,
                          const std::vector<size_t>& cuts, size_t* redactions,
                          bool truncated = false) {
  StreamScrubber stream(&scrubber);
  std::string out;
  size_t start = 0;
  for (size_t cut : cuts) {
    stream.Feed(absl::string_view(body).substr(start, cut - start), &out);
    start = cut;
  }
  stream.Feed(absl::string_view(body).substr(start), &out);
  stream.Finish(truncated, &out);
  *redactions = stream.redactions();
  return out;
}

TEST(StreamScrubberTest, EveryFormSplitAtEveryPointIsRedacted) {
  ResponseScrubber scrubber;
  scrubber.AddCredential(kSecret);
  for (const std::string& form : EncodedForms()) {
    const std::string body = "{\"token\":\"" + form + "\",\"n\":1}";
    const size_t at = body.find(form);
    for (size_t split = at; split <= at + form.size(); ++split) {
      size_t redactions = 0;
      std::string out = ScrubInChunks(scrubber, body, {split}, &redactions);
      EXPECT_FALSE(absl::StrContains(out, form)) << form << " @" << split;
      EXPECT_EQ(out,
                "{\"token\":\"" + std::string(kRedactionMarker) + "\",\"n\":1}")
          << form << " @" << split;
      EXPECT_EQ(redactions, 1u) << form << " @" << split;
    }
  }
}

TEST(StreamScrubberTest, EveryChunkSizeGivesTheWholeBodyAnswer) {
  ResponseScrubber scrubber;
  scrubber.AddCredential(kSecret);
  std::string body;
  for (const std::string& form : EncodedForms()) {
    body += "text before " + form + " and after; ";
  }
  std::string whole = body;
  const size_t expected = scrubber.Scrub(&whole);
  ASSERT_EQ(expected, EncodedForms().size());
  for (size_t chunk = 1; chunk <= body.size() + 1; ++chunk) {
    std::vector<size_t> cuts;
    for (size_t cut = chunk; cut < body.size(); cut += chunk) {
      cuts.push_back(cut);
    }
    size_t redactions = 0;
    std::string out = ScrubInChunks(scrubber, body, cuts, &redactions);
    EXPECT_EQ(out, whole) << "chunk size " << chunk;
    EXPECT_EQ(redactions, expected) << "chunk size " << chunk;
  }
}

TEST(StreamScrubberTest, TruncatedTailPrefixIsRedacted) {
  ResponseScrubber scrubber;
  scrubber.AddCredential(kSecret);
  const std::string prefix = "ghp_S3cr3t/Tok";  // cut by the size cap.
  size_t redactions = 0;
  std::string out = ScrubInChunks(scrubber, "body: " + prefix, {3, 9},
                                  &redactions, /*truncated=*/true);
  EXPECT_FALSE(absl::StrContains(out, "ghp_S3cr3t"));
  EXPECT_EQ(out, "body: " + std::string(kRedactionMarker));
  EXPECT_EQ(redactions, 1u);
}

TEST(StreamScrubberTest, UntruncatedTailIsReleasedAsIs) {
  ResponseScrubber scrubber;
  scrubber.AddCredential(kSecret);
  // A complete body may end in something that looks like the start of a
  // credential: it is not one, and it is passed on unchanged.
  size_t redactions = 0;
  std::string out =
      ScrubInChunks(scrubber, "ends with ghp_", {4}, &redactions, false);
  EXPECT_EQ(out, "ends with ghp_");
  EXPECT_EQ(redactions, 0u);
}

TEST(StreamScrubberTest, CountsEveryOccurrenceAcrossManyChunks) {
  ResponseScrubber scrubber;
  scrubber.AddCredential("sk_live_0123456789abcdef");
  std::string body;
  for (int i = 0; i < 100; ++i) {
    body += absl::StrCat("line ", i, " sk_live_0123456789abcdef\n");
  }
  std::vector<size_t> cuts;
  for (size_t cut = 7; cut < body.size(); cut += 7) cuts.push_back(cut);
  size_t redactions = 0;
  std::string out = ScrubInChunks(scrubber, body, cuts, &redactions);
  EXPECT_EQ(redactions, 100u);
  EXPECT_FALSE(absl::StrContains(out, "sk_live"));
}

TEST(StreamScrubberTest, NoCredentialsPassesEverythingThrough) {
  ResponseScrubber scrubber;
  StreamScrubber stream(&scrubber);
  std::string out;
  stream.Feed("abc", &out);
  EXPECT_EQ(out, "abc");  // nothing held back: there is nothing to find.
  stream.Finish(true, &out);
  EXPECT_EQ(out, "abc");
}

}  // namespace
}  // namespace latchkey::vault
