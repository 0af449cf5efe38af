#include "audit_sink/chain_verifier.h"

#include "audit_sink/audit_log.h"
#include "audit_sink/audit_record.h"
#include "audit_sink/test_util.h"
#include "gtest/gtest.h"

namespace latchkey::audit_sink {
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
}  // namespace latchkey::audit_sink

namespace latchkey::audit_sink {
namespace {

// Expected heads come from outside the host, so they catch what the files
// alone cannot: a cut tail (with the local checkpoints gone) and a history
// rewritten by someone holding the HMAC key.
class ExpectedHeadTest : public ChainVerifierTest {
 protected:
  ExpectedHead HeadOf(uint64_t sequence) {
    std::vector<std::string> lines = SplitLines(ReadFile(path_));
    return ExpectedHead{sequence, LineHash(lines[sequence - 1])};
  }
};

TEST_F(ExpectedHeadTest, UntouchedLogReachesItsHeads) {
  VerifyOptions options;
  options.expect = {HeadOf(6), HeadOf(3)};
  v1::VerifyResponse result = Verify(options);
  EXPECT_TRUE(result.ok()) << result.detail();
  EXPECT_EQ(result.expectations_checked(), 2u);
  EXPECT_EQ(result.records_checked(), 6u);
}

TEST_F(ExpectedHeadTest, CutTailPassesAloneButNotWithTheHead) {
  VerifyOptions options;
  options.expect = {HeadOf(6)};
  std::vector<std::string> lines = SplitLines(ReadFile(path_));
  lines.resize(4);  // Whole lines: the chain alone cannot tell.
  WriteFile(path_, JoinLines(lines));
  EXPECT_TRUE(Verify().ok());
  v1::VerifyResponse result = Verify(options);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.problem(), "truncated");
  EXPECT_EQ(result.first_bad_sequence(), 5u);
  EXPECT_EQ(result.detail(),
            "the log ends at record 4, before record 6 that the expected "
            "head names: records were removed");
  // The live sink, restarted on the cut log, acknowledges only 4.
  options.acknowledged = 4;
  result = Verify(options);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.problem(), "truncated");
  EXPECT_EQ(result.first_bad_sequence(), 5u);
}

TEST_F(ExpectedHeadTest, RewrittenHistoryWithTheKeyIsEdited) {
  VerifyOptions options;
  options.expect = {HeadOf(5)};
  // Someone with hmac.key re-chains records 5 and 6 with other contents
  // onto the real record 4: HMACs and links all hold.
  std::vector<std::string> mine = SplitLines(ReadFile(path_));
  mine[4] =
      FormatRecordLine(MakeEvent(105), 5, absl::Now(), LineHash(mine[3]), kKey);
  mine[5] =
      FormatRecordLine(MakeEvent(106), 6, absl::Now(), LineHash(mine[4]), kKey);
  WriteFile(path_, JoinLines(mine));
  EXPECT_TRUE(Verify().ok()) << "the forgery is consistent";
  v1::VerifyResponse result = Verify(options);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.problem(), "edited");
  EXPECT_EQ(result.first_bad_sequence(), 5u);
  EXPECT_NE(result.detail().find("not to the expected head"), std::string::npos)
      << result.detail();
}

TEST_F(ExpectedHeadTest, HeadOutsideTheRangeIsInvalid) {
  VerifyOptions options;
  options.first_sequence = 2;
  options.last_sequence = 4;
  options.expect = {HeadOf(5)};
  EXPECT_EQ(VerifyChainFile(path_, kKey, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.expect = {HeadOf(1)};
  EXPECT_EQ(VerifyChainFile(path_, kKey, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ExpectedHeadTest, NothingAcknowledgedYetMissesTheHead) {
  VerifyOptions options;
  options.acknowledged = 0;
  options.expect = {HeadOf(2)};
  v1::VerifyResponse result = Verify(options);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.problem(), "truncated");
  EXPECT_EQ(result.first_bad_sequence(), 1u);
}

TEST(ParseExpectedHeadTest, ParsesSeqColonHead) {
  const std::string hash(64, 'A');
  absl::StatusOr<ExpectedHead> head = ParseExpectedHead("12:" + hash);
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->sequence, 12u);
  EXPECT_EQ(head->head_hash, std::string(64, 'a'));
  EXPECT_EQ(FormatExpectedHead(12, head->head_hash), "12:" + head->head_hash);
  for (const std::string& bad :
       {std::string("12"), "0:" + hash, "x:" + hash, "12:" + hash + "0",
        "12:" + std::string(64, 'g'), "-1:" + hash, std::string(":")}) {
    EXPECT_EQ(ParseExpectedHead(bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  absl::StatusOr<std::vector<ExpectedHead>> heads =
      ParseExpectedHeads({"1:" + hash + ",2:" + hash, "3:" + hash});
  ASSERT_TRUE(heads.ok()) << heads.status();
  ASSERT_EQ(heads->size(), 3u);
  EXPECT_EQ((*heads)[2].sequence, 3u);
  EXPECT_FALSE(ParseExpectedHeads({"1:" + hash + ",bad"}).ok());
}

TEST(ParseExpectedHeadTest, FlagValuesKeepsEveryRepetition) {
  std::vector<std::string> args = {
      "prog", "--expect=1:a", "-expect=2:b", "--expected=x", "--expect",
      "3:c",  "--other=4",    "--",          "--expect=5"};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  EXPECT_EQ(FlagValues(static_cast<int>(argv.size()), argv.data(), "expect"),
            (std::vector<std::string>{"1:a", "2:b", "3:c"}));
}

}  // namespace
}  // namespace latchkey::audit_sink
