#include "audit_sink/chain_verifier.h"

#include "audit_sink/audit_log.h"
#include "audit_sink/audit_record.h"
#include "audit_sink/test_util.h"
#include "gtest/gtest.h"

namespace latchkey {
namespace {

const std::string kKey(32, 'k');

class ChainVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = AuditLog::Open(dir_.path(), kKey);
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 1; i <= 6; ++i) ASSERT_TRUE((*log)->Append(MakeEvent(i)).ok());
    path_ = dir_.path() + "/audit.log";
  }
  v1::VerifyResponse Verify(const VerifyOptions& options = {}) {
    absl::StatusOr<v1::VerifyResponse> result =
        VerifyChainFile(path_, kKey, options);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : v1::VerifyResponse();
  }
  TempDir dir_;
  std::string path_;
};

TEST_F(ChainVerifierTest, IntactLogAndRanges) {
  v1::VerifyResponse result = Verify();
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.records_checked(), 6u);
  VerifyOptions range;
  range.first_sequence = 2;
  range.last_sequence = 4;
  result = Verify(range);
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.records_checked(), 3u);
  // Asking offline for more than the file holds is truncation.
  range.last_sequence = 9;
  result = Verify(range);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.problem(), "truncated");
  EXPECT_EQ(result.first_bad_sequence(), 7u);
}

TEST_F(ChainVerifierTest, FileEndingMidLineIsTruncated) {
  WriteFile(path_, ReadFile(path_) + "{\"seq\":7,\"ts\"");
  v1::VerifyResponse result = Verify();
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.problem(), "truncated");
  EXPECT_EQ(result.first_bad_sequence(), 7u);
  EXPECT_EQ(result.records_checked(), 6u);
}

TEST_F(ChainVerifierTest, FewerRecordsThanAcknowledgedIsTruncated) {
  VerifyOptions options;
  options.acknowledged = 8;
  v1::VerifyResponse result = Verify(options);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.problem(), "truncated");
  EXPECT_EQ(result.first_bad_sequence(), 7u);
  // Lines after the acknowledged record are not read.
  WriteFile(path_, ReadFile(path_) + "half a li");
  options.acknowledged = 6;
  EXPECT_TRUE(Verify(options).ok());
}

TEST_F(ChainVerifierTest, ForeignRecordWithValidHmacBreaksTheLink) {
  // Even a correctly keyed record is refused when its prev does not
  // match the line before it (spliced from another log).
  std::vector<std::string> lines = SplitLines(ReadFile(path_));
  lines[3] = FormatRecordLine(MakeEvent(99), 4, absl::Now(),
                              std::string(64, 'a'), kKey);
  WriteFile(path_, JoinLines(lines));
  v1::VerifyResponse result = Verify();
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.problem(), "edited");
  EXPECT_EQ(result.first_bad_sequence(), 4u);
}

TEST_F(ChainVerifierTest, DuplicatedLineIsReordered) {
  std::vector<std::string> lines = SplitLines(ReadFile(path_));
  lines.insert(lines.begin() + 3, lines[2]);  // Record 3 twice.
  WriteFile(path_, JoinLines(lines));
  v1::VerifyResponse result = Verify();
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.problem(), "reordered");
  EXPECT_EQ(result.first_bad_sequence(), 4u);
}

// Without the HMAC key only the links tell, yet they pin the record:
// an edited record breaks the link to the next one only; a replaced one
// breaks the links on both sides.
TEST_F(ChainVerifierTest, WithoutTheKeyLinksPinTheEditedRecord) {
  const std::string original = ReadFile(path_);
  std::vector<std::string> lines = SplitLines(original);
  lines[2][lines[2].find("GET")] = 'P';  // Record 3's content.
  WriteFile(path_, JoinLines(lines));
  v1::VerifyResponse result = *VerifyChainFile(path_, "", {});
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.first_bad_sequence(), 3u);
  EXPECT_EQ(result.problem(), "edited");

  lines = SplitLines(original);
  lines[3] = FormatRecordLine(MakeEvent(99), 4, absl::Now(),
                              std::string(64, 'a'), kKey);  // Spliced 4.
  WriteFile(path_, JoinLines(lines));
  result = *VerifyChainFile(path_, "", {});
  EXPECT_EQ(result.first_bad_sequence(), 4u);
  EXPECT_EQ(result.problem(), "edited");

  lines = SplitLines(original);
  size_t at = lines[4].find("\"prev\":\"") + 8;
  lines[4][at] = lines[4][at] == 'a' ? 'b' : 'a';  // Record 5's link.
  WriteFile(path_, JoinLines(lines));
  result = *VerifyChainFile(path_, "", {});
  EXPECT_EQ(result.first_bad_sequence(), 5u);
  EXPECT_EQ(result.problem(), "edited");

  WriteFile(path_, original);
  result = *VerifyChainFile(path_, "", {});
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.records_checked(), 6u);
}

TEST_F(ChainVerifierTest, MissingFileIsAnError) {
  EXPECT_EQ(VerifyChainFile(dir_.path() + "/nope", kKey, {}).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace latchkey
