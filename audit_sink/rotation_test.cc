// Rotation, signed checkpoints and tamper detection across files, on real
// files: the live log's Verify (HMAC key + checkpoints) and the offline
// check with only the public checkpoint key.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "audit_sink/audit_log.h"
#include "audit_sink/audit_record.h"
#include "audit_sink/chain_verifier.h"
#include "audit_sink/checkpoint.h"
#include "audit_sink/test_util.h"
#include "common/crypto.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace latchkey::audit_sink {
namespace {

const std::string kKey(32, 'k');
// About three records per file.
constexpr uint64_t kSmallFile = 2000;

class RotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto key = CheckpointKey::LoadOrCreate(dir_.path());
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = std::move(*key);
    auto pub = CheckpointKey::LoadPublic(dir_.path() + "/checkpoint.pub");
    ASSERT_TRUE(pub.ok()) << pub.status();
    public_key_ = std::move(*pub);
  }
  AuditLogOptions Options(uint64_t every = 1000) {
    AuditLogOptions options;
    options.max_file_bytes = kSmallFile;
    options.checkpoint_key = key_.get();
    options.checkpoint_every_records = every;
    options.checkpoint_interval = absl::Seconds(60);
    return options;
  }
  std::unique_ptr<AuditLog> OpenLog(const AuditLogOptions& options) {
    auto log = AuditLog::Open(dir_.path(), kKey, options);
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }
  // WriteLog appends records 1..n and closes the log (which writes a
  // final checkpoint).
  void WriteLog(int n, uint64_t every = 1000) {
    auto log = OpenLog(Options(every));
    ASSERT_NE(log, nullptr);
    for (int i = 1; i <= n; ++i) {
      absl::StatusOr<uint64_t> sequence = log->Append(MakeEvent(i));
      ASSERT_TRUE(sequence.ok()) << sequence.status();
      ASSERT_EQ(*sequence, static_cast<uint64_t>(i));
    }
  }
  std::vector<LogFile> Files() {
    auto files = ListLogFiles(dir_.path());
    EXPECT_TRUE(files.ok());
    return files.ok() ? *files : std::vector<LogFile>();
  }
  // The file holding record `sequence`.
  LogFile FileOf(uint64_t sequence) {
    LogFile found;
    for (const LogFile& file : Files()) {
      if (file.first_sequence <= sequence) found = file;
    }
    return found;
  }
  std::vector<Checkpoint> Checkpoints() {
    auto list =
        ReadCheckpoints(dir_.path() + "/checkpoints.jsonl", *public_key_);
    EXPECT_TRUE(list.ok()) << list.status();
    EXPECT_FALSE(list.ok() && list->problem.has_value());
    return list.ok() ? list->checkpoints : std::vector<Checkpoint>();
  }
  // Offline verification: only the files, the checkpoints and the
  // public key (no HMAC key).
  v1::VerifyResponse VerifyPublic() {
    auto list =
        ReadCheckpoints(dir_.path() + "/checkpoints.jsonl", *public_key_);
    EXPECT_TRUE(list.ok()) << list.status();
    VerifyOptions options;
    options.checkpoints = &*list;
    auto result = VerifyChainFiles(Files(), "", options);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : v1::VerifyResponse();
  }
  // Live verification with the HMAC key and the checkpoints.
  v1::VerifyResponse VerifyLive() {
    auto log = OpenLog(Options());
    if (log == nullptr) return v1::VerifyResponse();
    auto result = log->Verify(0, 0);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : v1::VerifyResponse();
  }
  // ForgeFile rewrites `file` with records built by someone without the
  // HMAC key: same sequence numbers, a chain consistent with the record
  // before the file, other content.
  void ForgeFile(const LogFile& file) {
    std::vector<std::string> lines = SplitLines(ReadFile(file.path));
    ASSERT_FALSE(lines.empty());
    auto header = ParseHeaderLine(lines[0]);
    ASSERT_TRUE(header.ok());
    std::string prev = header->prev_hash;
    for (size_t i = 1; i < lines.size(); ++i) {
      uint64_t sequence = *PeekSequence(lines[i]);
      v1::AuditEvent event = MakeEvent(static_cast<int>(sequence), "mallory");
      lines[i] = FormatRecordLine(event, sequence, absl::Now(), prev,
                                  std::string(32, 'x'));
      prev = LineHash(lines[i]);
    }
    lines[0] = FormatHeaderLine(*header, absl::Now(), std::string(32, 'x'));
    WriteFile(file.path, JoinLines(lines));
  }
  void ExpectBad(const v1::VerifyResponse& result, uint64_t sequence,
                 const std::string& problem) {
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(result.first_bad_sequence(), sequence)
        << result.problem() << " " << result.ShortDebugString();
    EXPECT_EQ(result.problem(), problem);
  }

  TempDir dir_;
  std::unique_ptr<CheckpointKey> key_;
  std::unique_ptr<CheckpointKey> public_key_;
};

TEST_F(RotationTest, ChainContinuesAcrossFilesWithHeaders) {
  WriteLog(20);
  std::vector<LogFile> files = Files();
  ASSERT_GE(files.size(), 5u);
  EXPECT_EQ(files[0].path, dir_.path() + "/audit.log");
  std::string prev_hash(kGenesisHash);
  uint64_t expected = 1;
  for (size_t i = 0; i < files.size(); ++i) {
    struct stat st;
    ASSERT_EQ(::stat(files[i].path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    std::vector<std::string> lines = SplitLines(ReadFile(files[i].path));
    size_t first_record = 0;
    if (i > 0) {
      // Each new file starts with a header carrying the previous file's
      // last hash and sequence.
      auto header = ParseHeaderLine(lines[0]);
      ASSERT_TRUE(header.ok()) << lines[0];
      EXPECT_EQ(header->prev_sequence, expected - 1);
      EXPECT_EQ(header->prev_hash, prev_hash);
      EXPECT_TRUE(LineHmacMatches(lines[0], kKey));
      EXPECT_EQ(files[i].first_sequence, expected);
      EXPECT_EQ(files[i].path,
                dir_.path() + "/" + RotatedLogName(files[i].first_sequence));
      first_record = 1;
    }
    EXPECT_LE(st.st_size, static_cast<off_t>(kSmallFile));
    ASSERT_GT(lines.size(), first_record);
    for (size_t j = first_record; j < lines.size(); ++j) {
      auto json = nlohmann::json::parse(lines[j]);
      EXPECT_EQ(json["seq"], expected);
      EXPECT_EQ(json["prev"], prev_hash);
      prev_hash = Sha256Hex(lines[j]);
      ++expected;
    }
  }
  EXPECT_EQ(expected, 21u);

  auto log = OpenLog(Options());
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->last_sequence(), 20u);
  EXPECT_EQ(log->files().size(), files.size());
  auto result = log->Verify(0, 0);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->ok()) << result->ShortDebugString();
  EXPECT_EQ(result->records_checked(), 20u);
  // A range across a file boundary, from the middle of a file.
  result =
      log->Verify(files[2].first_sequence + 1, files[3].first_sequence + 1);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->ok()) << result->ShortDebugString();
  EXPECT_EQ(result->records_checked(),
            files[3].first_sequence - files[2].first_sequence + 1);

  // Query pages across files.
  v1::QueryRequest request;
  request.set_limit(7);
  std::vector<uint64_t> seen;
  while (true) {
    auto page = log->Query(request);
    ASSERT_TRUE(page.ok());
    for (const auto& record : page->records())
      seen.push_back(record.sequence());
    if (page->next_after_sequence() == 0) break;
    request.set_after_sequence(page->next_after_sequence());
  }
  ASSERT_EQ(seen.size(), 20u);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i + 1);

  // The chain resumes in the newest file after a reopen, and keeps
  // rotating.
  for (int i = 21; i <= 30; ++i) {
    auto sequence = log->Append(MakeEvent(i));
    ASSERT_TRUE(sequence.ok());
    EXPECT_EQ(*sequence, static_cast<uint64_t>(i));
  }
  EXPECT_GT(log->files().size(), files.size());
  result = log->Verify(0, 0);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->ok()) << result->ShortDebugString();
  EXPECT_EQ(result->records_checked(), 30u);
}

TEST_F(RotationTest, TailFollowsAcrossRotations) {
  auto log = OpenLog(Options());
  ASSERT_NE(log, nullptr);
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(log->Append(MakeEvent(i)).ok());
  AuditLog::TailCursor from_start = log->TailFrom(1);
  AuditLog::TailCursor from_four = log->TailFrom(4);
  AuditLog::TailCursor only_new = log->TailFrom(0);
  for (int i = 6; i <= 25; ++i) ASSERT_TRUE(log->Append(MakeEvent(i)).ok());
  ASSERT_GE(log->files().size(), 5u);
  auto collect = [&](AuditLog::TailCursor* cursor) {
    std::vector<uint64_t> seen;
    while (true) {
      auto records = log->ReadNext(cursor, 4);  // Small pages.
      EXPECT_TRUE(records.ok());
      if (!records.ok() || records->empty()) break;
      for (const auto& record : *records) seen.push_back(record.sequence());
    }
    return seen;
  };
  std::vector<uint64_t> all = collect(&from_start);
  ASSERT_EQ(all.size(), 25u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], i + 1);
  std::vector<uint64_t> from4 = collect(&from_four);
  ASSERT_EQ(from4.size(), 22u);
  EXPECT_EQ(from4.front(), 4u);
  std::vector<uint64_t> fresh = collect(&only_new);
  ASSERT_EQ(fresh.size(), 20u);
  EXPECT_EQ(fresh.front(), 6u);
  EXPECT_EQ(fresh.back(), 25u);
  EXPECT_EQ(only_new.seen_through, 25u);
}

TEST_F(RotationTest, CrashDuringRotationIsCompletedOnOpen) {
  WriteLog(8);
  std::vector<LogFile> files = Files();
  ASSERT_GE(files.size(), 2u);
  // As if the sink died right after creating the next file.
  auto log = OpenLog(Options());
  ASSERT_NE(log, nullptr);
  const uint64_t next = log->last_sequence() + 1;
  log.reset();
  const std::string empty = dir_.path() + "/" + RotatedLogName(next);
  WriteFile(empty, "{\"header\":\"latchkey-au");  // Partial header.
  ::chmod(empty.c_str(), 0600);
  log = OpenLog(Options());
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->last_sequence(), 8u);
  auto header = ParseHeaderLine(SplitLines(ReadFile(empty))[0]);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->prev_sequence, 8u);
  auto sequence = log->Append(MakeEvent(9));
  ASSERT_TRUE(sequence.ok());
  EXPECT_EQ(*sequence, 9u);
  auto result = log->Verify(0, 0);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->ok()) << result->ShortDebugString();
  EXPECT_EQ(result->records_checked(), 9u);
}

TEST_F(RotationTest, CheckpointsAreSignedPeriodicallyAndOnRotation) {
  struct stat st;
  ASSERT_EQ(::stat((dir_.path() + "/checkpoint.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(absl::StartsWith(ReadFile(dir_.path() + "/checkpoint.pub"),
                               "-----BEGIN PUBLIC KEY-----"));
  {
    AuditLogOptions options = Options(/*every=*/4);
    options.max_file_bytes = 0;  // Only periodic ones here.
    auto log = OpenLog(options);
    ASSERT_NE(log, nullptr);
    for (int i = 1; i <= 9; ++i) ASSERT_TRUE(log->Append(MakeEvent(i)).ok());
    // Fewer than `every` records stay without a checkpoint (without
    // waiting for the interval).
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (9 - log->checkpoint_sequence() >= 4 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    EXPECT_GE(log->checkpoint_sequence(), 6u);
  }
  std::vector<Checkpoint> checkpoints = Checkpoints();
  ASSERT_GE(checkpoints.size(), 1u);
  EXPECT_EQ(checkpoints.back().sequence, 9u);  // Written on close.
  std::vector<std::string> lines =
      SplitLines(ReadFile(dir_.path() + "/audit.log"));
  for (const Checkpoint& checkpoint : checkpoints) {
    EXPECT_EQ(checkpoint.head_hash, Sha256Hex(lines[checkpoint.sequence - 1]));
  }
  // Reloading the key gives the same public key; a signature by another
  // key is refused.
  auto again = CheckpointKey::LoadOrCreate(dir_.path());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->PublicPem(), key_->PublicPem());
  TempDir other_dir;
  auto other = CheckpointKey::LoadOrCreate(other_dir.path());
  ASSERT_TRUE(other.ok());
  auto forged = FormatCheckpointLine(9, checkpoints.back().head_hash,
                                     absl::Now(), **other);
  ASSERT_TRUE(forged.ok());
  EXPECT_EQ(ParseCheckpointLine(*forged, *public_key_).status().code(),
            absl::StatusCode::kUnauthenticated);
  // Without its key, existing checkpoints could not be continued.
  ASSERT_EQ(::unlink((dir_.path() + "/checkpoint.key").c_str()), 0);
  EXPECT_EQ(CheckpointKey::LoadOrCreate(dir_.path()).status().code(),
            absl::StatusCode::kFailedPrecondition);

  WriteLog(0);  // Reopen with rotation: nothing new to checkpoint.
}

TEST_F(RotationTest, RotationWritesACheckpointForEachFileEnd) {
  WriteLog(20);
  std::vector<LogFile> files = Files();
  std::vector<uint64_t> sequences;
  for (const Checkpoint& checkpoint : Checkpoints()) {
    sequences.push_back(checkpoint.sequence);
  }
  for (size_t i = 1; i < files.size(); ++i) {
    EXPECT_NE(std::find(sequences.begin(), sequences.end(),
                        files[i].first_sequence - 1),
              sequences.end())
        << "no checkpoint at the end of file " << i;
  }
  EXPECT_EQ(sequences.back(), 20u);
  v1::VerifyResponse result = VerifyPublic();
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.records_checked(), 20u);
  EXPECT_EQ(result.checkpoints_checked(), sequences.size());
  result = VerifyLive();
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.checkpoints_checked(), sequences.size());
}

// The tamper tests: each is detected at the exact sequence number, by the
// live Verify (HMAC key and checkpoints) and offline with only the public
// checkpoint key.

TEST_F(RotationTest, FlippedByteIsEditedWithEitherKey) {
  WriteLog(20);
  const LogFile file = FileOf(11);
  std::vector<std::string> lines = SplitLines(ReadFile(file.path));
  const size_t index = 11 - file.first_sequence + (file.first_sequence > 1);
  ASSERT_EQ(*PeekSequence(lines[index]), 11u);
  size_t at = lines[index].find("\"agent\":\"agent-a\"");
  lines[index][at + 9] ^= 0x01;
  WriteFile(file.path, JoinLines(lines));
  ExpectBad(VerifyLive(), 11, "edited");
  ExpectBad(VerifyPublic(), 11, "edited");
}

TEST_F(RotationTest, DeletedLineIsDetectedWithEitherKey) {
  WriteLog(20);
  const LogFile file = FileOf(12);
  std::vector<std::string> lines = SplitLines(ReadFile(file.path));
  const size_t index = 12 - file.first_sequence + 1;
  ASSERT_EQ(*PeekSequence(lines[index]), 12u);
  lines.erase(lines.begin() + index);
  WriteFile(file.path, JoinLines(lines));
  ExpectBad(VerifyLive(), 12, "deleted");
  ExpectBad(VerifyPublic(), 12, "deleted");
}

TEST_F(RotationTest, SwappedLinesAreReorderedWithEitherKey) {
  WriteLog(20);
  const LogFile file = FileOf(13);
  std::vector<std::string> lines = SplitLines(ReadFile(file.path));
  ASSERT_GE(lines.size(), 3u);
  // The file's first two records.
  std::swap(lines[1], lines[2]);
  WriteFile(file.path, JoinLines(lines));
  ExpectBad(VerifyLive(), file.first_sequence, "reordered");
  ExpectBad(VerifyPublic(), file.first_sequence, "reordered");
}

TEST_F(RotationTest, TruncatedTailIsDetectedWithEitherKey) {
  WriteLog(20);
  std::vector<LogFile> files = Files();
  // Cut the newest file back to its header and first record: records
  // after it were acknowledged and checkpointed.
  const LogFile& last = files.back();
  std::vector<std::string> lines = SplitLines(ReadFile(last.path));
  ASSERT_GE(lines.size(), 3u);
  lines.resize(2);
  WriteFile(last.path, JoinLines(lines));
  ExpectBad(VerifyPublic(), last.first_sequence + 1, "truncated");
  // The live sink refuses to resume a log shorter than its checkpoints.
  auto reopened = AuditLog::Open(dir_.path(), kKey, Options());
  EXPECT_EQ(reopened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(reopened.status().message(), "checkpoint"));
  // Removing the whole newest file is the same truncation.
  ASSERT_EQ(::unlink(last.path.c_str()), 0);
  ExpectBad(VerifyPublic(), last.first_sequence, "truncated");
}

TEST_F(RotationTest, ReplacedFileIsDetectedWithEitherKey) {
  WriteLog(20);
  std::vector<LogFile> files = Files();
  ASSERT_GE(files.size(), 4u);
  const LogFile middle = files[2];
  ForgeFile(middle);
  ExpectBad(VerifyLive(), middle.first_sequence, "edited");
  ExpectBad(VerifyPublic(), middle.first_sequence, "edited");
}

TEST_F(RotationTest, DeletedFileIsDetectedWithEitherKey) {
  WriteLog(20);
  std::vector<LogFile> files = Files();
  ASSERT_GE(files.size(), 4u);
  ASSERT_EQ(::unlink(files[2].path.c_str()), 0);
  ExpectBad(VerifyLive(), files[2].first_sequence, "deleted");
  ExpectBad(VerifyPublic(), files[2].first_sequence, "deleted");
}

TEST_F(RotationTest, ForgedCheckpointIsReported) {
  WriteLog(6);
  const std::string path = dir_.path() + "/checkpoints.jsonl";
  std::vector<std::string> lines = SplitLines(ReadFile(path));
  ASSERT_FALSE(lines.empty());
  // Claim a later head: the signature no longer matches.
  std::string& line = lines.back();
  line.replace(line.find("\"seq\":"), 7, "\"seq\":7");
  WriteFile(path, JoinLines(lines));
  v1::VerifyResponse result = VerifyPublic();
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.problem(), "bad checkpoint");
}

}  // namespace
}  // namespace latchkey::audit_sink
