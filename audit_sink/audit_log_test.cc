#include "audit_sink/audit_log.h"

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "audit_sink/audit_record.h"
#include "audit_sink/chain_verifier.h"
#include "audit_sink/test_util.h"
#include "common/crypto.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace latchkey::audit_sink {
namespace {

const std::string kKey(32, 'k');

class AuditLogTest : public ::testing::Test {
 protected:
  std::unique_ptr<AuditLog> OpenLog(const std::string& key = kKey) {
    absl::StatusOr<std::unique_ptr<AuditLog>> log =
        AuditLog::Open(dir_.path(), key);
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }
  // AppendMany appends records 1..n and expects their sequence numbers.
  void AppendMany(AuditLog* log, int n) {
    for (int i = 1; i <= n; ++i) {
      absl::StatusOr<uint64_t> sequence = log->Append(MakeEvent(i));
      ASSERT_TRUE(sequence.ok()) << sequence.status();
    }
  }
  std::string LogPath() const { return dir_.path() + "/audit.log"; }
  std::vector<std::string> Lines() const {
    return SplitLines(ReadFile(LogPath()));
  }
  void ExpectBad(AuditLog* log, uint64_t sequence, const std::string& problem) {
    absl::StatusOr<v1::VerifyResponse> result = log->Verify(0, 0);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_FALSE(result->ok());
    EXPECT_EQ(result->first_bad_sequence(), sequence);
    EXPECT_EQ(result->problem(), problem);
  }
  std::vector<std::string> PartialFiles() const {
    std::vector<std::string> names;
    DIR* d = ::opendir(dir_.path().c_str());
    while (struct dirent* entry = ::readdir(d)) {
      if (absl::StartsWith(entry->d_name, "audit.log.partial-")) {
        names.push_back(dir_.path() + "/" + entry->d_name);
      }
    }
    ::closedir(d);
    return names;
  }

  TempDir dir_;
};

TEST_F(AuditLogTest, AppendThenVerifyRoundTrip) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  for (int i = 1; i <= 10; ++i) {
    absl::StatusOr<uint64_t> sequence = log->Append(MakeEvent(i));
    ASSERT_TRUE(sequence.ok()) << sequence.status();
    EXPECT_EQ(*sequence, static_cast<uint64_t>(i));
  }
  EXPECT_EQ(log->last_sequence(), 10u);
  absl::StatusOr<v1::VerifyResponse> result = log->Verify(0, 0);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->ok()) << result->problem();
  EXPECT_EQ(result->records_checked(), 10u);

  struct stat st;
  ASSERT_EQ(::stat(LogPath().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 10u);
  std::string prev(kGenesisHash);
  for (size_t i = 0; i < lines.size(); ++i) {
    auto json = nlohmann::ordered_json::parse(lines[i]);
    EXPECT_EQ(json["seq"], i + 1);
    // RFC 3339, UTC, nanoseconds: 2026-11-23T11:19:00.123456789Z.
    const std::string ts = json["ts"];
    absl::Time parsed;
    EXPECT_TRUE(absl::ParseTime("%Y-%m-%dT%H:%M:%E9SZ", ts, &parsed, nullptr));
    EXPECT_EQ(ts.size(), 30u);
    EXPECT_EQ(ts.back(), 'Z');
    EXPECT_EQ(json["prev"], prev);
    prev = Sha256Hex(lines[i]);
  }
  // A sub-range verifies on its own.
  result = log->Verify(3, 6);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->ok());
  EXPECT_EQ(result->records_checked(), 4u);
}

TEST_F(AuditLogTest, ReopenResumesTheChain) {
  {
    auto log = OpenLog();
    AppendMany(log.get(), 5);
  }
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->last_sequence(), 5u);
  absl::StatusOr<uint64_t> sequence = log->Append(MakeEvent(6));
  ASSERT_TRUE(sequence.ok());
  EXPECT_EQ(*sequence, 6u);
  std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(nlohmann::json::parse(lines[5])["prev"], Sha256Hex(lines[4]));
  absl::StatusOr<v1::VerifyResponse> result = log->Verify(0, 0);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->ok()) << result->problem();
  EXPECT_EQ(result->records_checked(), 6u);
}

TEST_F(AuditLogTest, PartialLastLineIsMovedAsideAndTheChainResumes) {
  {
    auto log = OpenLog();
    AppendMany(log.get(), 3);
  }
  const std::string complete = ReadFile(LogPath());
  const std::string partial = "{\"seq\":4,\"ts\":\"2026-11-23T11:19";
  WriteFile(LogPath(), complete + partial);  // A crash mid-write.
  ::chmod(LogPath().c_str(), 0600);

  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->last_sequence(), 3u);
  EXPECT_EQ(ReadFile(LogPath()), complete);
  std::vector<std::string> moved = PartialFiles();
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(ReadFile(moved[0]), partial);
  struct stat st;
  ASSERT_EQ(::stat(moved[0].c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  absl::StatusOr<uint64_t> sequence = log->Append(MakeEvent(4));
  ASSERT_TRUE(sequence.ok());
  EXPECT_EQ(*sequence, 4u);
  absl::StatusOr<v1::VerifyResponse> result = log->Verify(0, 0);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->ok()) << result->problem();
  EXPECT_EQ(result->records_checked(), 4u);
}

TEST_F(AuditLogTest, FlippedByteIsEdited) {
  auto log = OpenLog();
  AppendMany(log.get(), 10);
  std::vector<std::string> lines = Lines();
  size_t at = lines[3].find("\"agent\":\"agent-a\"");
  ASSERT_NE(at, std::string::npos);
  lines[3][at + 9] ^= 0x01;  // "agent-a" -> "`gent-a": still valid JSON.
  WriteFile(LogPath(), JoinLines(lines));
  ExpectBad(log.get(), 4, "edited");
}

TEST_F(AuditLogTest, DeletedLineIsDetected) {
  auto log = OpenLog();
  AppendMany(log.get(), 10);
  std::vector<std::string> lines = Lines();
  lines.erase(lines.begin() + 4);  // Record 5.
  WriteFile(LogPath(), JoinLines(lines));
  ExpectBad(log.get(), 5, "deleted");
}

TEST_F(AuditLogTest, SwappedLinesAreReordered) {
  auto log = OpenLog();
  AppendMany(log.get(), 10);
  std::vector<std::string> lines = Lines();
  std::swap(lines[5], lines[6]);  // Records 6 and 7.
  WriteFile(LogPath(), JoinLines(lines));
  ExpectBad(log.get(), 6, "reordered");
}

TEST_F(AuditLogTest, DroppedTailIsTruncated) {
  auto log = OpenLog();
  AppendMany(log.get(), 10);
  std::vector<std::string> lines = Lines();
  lines.pop_back();  // Record 10, which the log acknowledged.
  WriteFile(LogPath(), JoinLines(lines));
  ExpectBad(log.get(), 10, "truncated");
}

TEST_F(AuditLogTest, GarbageLineIsUnparseable) {
  auto log = OpenLog();
  AppendMany(log.get(), 10);
  std::vector<std::string> lines = Lines();
  lines[2] = "this is not a record";
  WriteFile(LogPath(), JoinLines(lines));
  ExpectBad(log.get(), 3, "unparseable");
}

TEST_F(AuditLogTest, WrongKeyFailsFromTheFirstRecordAndOpenRefusesIt) {
  {
    auto log = OpenLog();
    AppendMany(log.get(), 4);
  }
  const std::string other_key(32, 'o');
  absl::StatusOr<v1::VerifyResponse> result =
      VerifyChainFile(LogPath(), other_key, VerifyOptions());
  ASSERT_TRUE(result.ok());
  EXPECT_FALSE(result->ok());
  EXPECT_EQ(result->first_bad_sequence(), 1u);
  EXPECT_EQ(result->problem(), "wrong key");
  // An edited first record is not mistaken for a wrong key.
  std::vector<std::string> lines = Lines();
  lines[0][lines[0].find("GET")] = 'P';
  WriteFile(LogPath(), JoinLines(lines));
  result = VerifyChainFile(LogPath(), kKey, VerifyOptions());
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->first_bad_sequence(), 1u);
  EXPECT_EQ(result->problem(), "edited");

  absl::StatusOr<std::unique_ptr<AuditLog>> reopened =
      AuditLog::Open(dir_.path(), other_key);
  EXPECT_EQ(reopened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(reopened.status().message().find("hmac.key"), std::string::npos);
}

TEST_F(AuditLogTest, ConcurrentAppendsShareFsyncsAndLeaveNoGaps) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  constexpr int kThreads = 32;
  constexpr int kPerThread = 200;
  std::vector<std::vector<uint64_t>> sequences(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::StatusOr<uint64_t> sequence =
            log->Append(MakeEvent(i, absl::StrCat("agent-", t)));
        ASSERT_TRUE(sequence.ok()) << sequence.status();
        sequences[t].push_back(*sequence);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::vector<uint64_t> all;
  for (const auto& mine : sequences) {
    // One caller's records are in the order it appended them.
    EXPECT_TRUE(std::is_sorted(mine.begin(), mine.end()));
    all.insert(all.end(), mine.begin(), mine.end());
  }
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], i + 1);

  absl::StatusOr<v1::VerifyResponse> result = log->Verify(0, 0);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->ok())
      << result->problem() << " at " << result->first_bad_sequence();
  EXPECT_EQ(result->records_checked(), all.size());
  EXPECT_GT(log->sync_count(), 0u);
  EXPECT_LT(log->sync_count(), all.size());
  std::cout << "appends: " << all.size() << " fdatasyncs: " << log->sync_count()
            << "\n";
}

// Followers, Query and Verify run while writers append: followers see
// every record once and in order, and Verify never reports a record that
// is still being written as damage.
TEST_F(AuditLogTest, ReadersRunWhileWritersAppend) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  constexpr int kWriters = 8;
  constexpr int kPerWriter = 100;
  constexpr size_t kTotal = kWriters * kPerWriter;
  std::atomic<bool> writing{true};
  std::vector<std::thread> threads;
  std::vector<std::vector<uint64_t>> followed(2);
  for (auto& seen : followed) {
    threads.emplace_back([&log, &seen] {
      AuditLog::TailCursor cursor = log->TailFrom(1);
      while (seen.size() < kTotal) {
        auto records = log->ReadNext(&cursor, 64);
        ASSERT_TRUE(records.ok()) << records.status();
        for (const auto& record : *records) seen.push_back(record.sequence());
        if (records->size() < 64) {
          log->WaitForSequence(cursor.seen_through + 1, absl::Seconds(1));
        }
      }
    });
  }
  threads.emplace_back([&] {
    while (writing.load()) {
      auto verdict = log->Verify(0, 0);
      ASSERT_TRUE(verdict.ok());
      EXPECT_TRUE(verdict->ok())
          << verdict->problem() << " at " << verdict->first_bad_sequence();
      v1::QueryRequest request;
      request.set_after_sequence(log->last_sequence() / 2);
      request.set_limit(50);
      EXPECT_TRUE(log->Query(request).ok());
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&log, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        ASSERT_TRUE(log->Append(MakeEvent(w * 1000 + i)).ok());
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  writing.store(false);
  for (std::thread& thread : threads) thread.join();
  for (const auto& seen : followed) {
    ASSERT_EQ(seen.size(), kTotal);
    for (size_t i = 0; i < kTotal; ++i) ASSERT_EQ(seen[i], i + 1);
  }
}

TEST_F(AuditLogTest, QueryFiltersAndPages) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(log->Append(MakeEvent(i, i % 2 ? "agent-a" : "agent-b",
                                      i % 4 == 0 ? "stripe" : "github",
                                      i % 3 == 0 ? v1::DECISION_DENY
                                                 : v1::DECISION_ALLOW))
                    .ok());
  }
  auto sequences = [](const v1::QueryResponse& response) {
    std::vector<uint64_t> out;
    for (const auto& record : response.records()) {
      out.push_back(record.sequence());
    }
    return out;
  };
  v1::QueryRequest request;
  request.set_agent("agent-b");
  auto response = log->Query(request);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(sequences(*response),
            (std::vector<uint64_t>{2, 4, 6, 8, 10, 12, 14, 16, 18, 20}));
  EXPECT_EQ(response->next_after_sequence(), 0u);
  EXPECT_EQ(response->records(0).event().agent(), "agent-b");

  request.Clear();
  request.set_decision(v1::DECISION_DENY);
  request.set_capability("github");
  response = log->Query(request);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(sequences(*response), (std::vector<uint64_t>{3, 6, 9, 15, 18}));

  // Paging: 7 at a time.
  request.Clear();
  request.set_limit(7);
  response = log->Query(request);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(sequences(*response), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(response->next_after_sequence(), 7u);
  request.set_after_sequence(14);
  response = log->Query(request);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(sequences(*response),
            (std::vector<uint64_t>{15, 16, 17, 18, 19, 20}));
  EXPECT_EQ(response->next_after_sequence(), 0u);

  // Time range: [time of 5, time of 10).
  request.Clear();
  response = log->Query(request);
  ASSERT_TRUE(response.ok());
  ASSERT_EQ(response->records_size(), 20);
  *request.mutable_start_time() = response->records(4).time();
  *request.mutable_end_time() = response->records(9).time();
  auto ranged = log->Query(request);
  ASSERT_TRUE(ranged.ok());
  EXPECT_EQ(sequences(*ranged), (std::vector<uint64_t>{5, 6, 7, 8, 9}));

  // The library clamps an over-large limit.
  request.Clear();
  request.set_limit(5000);
  EXPECT_TRUE(log->Query(request).ok());
}

TEST_F(AuditLogTest, TailCursorFollowsTheLog) {
  auto log = OpenLog();
  AppendMany(log.get(), 5);
  AuditLog::TailCursor cursor = log->TailFrom(2);
  auto records = log->ReadNext(&cursor, 2);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].sequence(), 2u);
  EXPECT_EQ((*records)[1].sequence(), 3u);
  records = log->ReadNext(&cursor, 10);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[1].sequence(), 5u);
  EXPECT_EQ(cursor.seen_through, 5u);

  AuditLog::TailCursor only_new = log->TailFrom(0);
  records = log->ReadNext(&only_new, 10);
  ASSERT_TRUE(records.ok());
  EXPECT_TRUE(records->empty());
  EXPECT_FALSE(log->WaitForSequence(6, absl::Milliseconds(20)));

  std::thread waiter(
      [&] { EXPECT_TRUE(log->WaitForSequence(6, absl::Seconds(30))); });
  ASSERT_TRUE(log->Append(MakeEvent(6)).ok());
  waiter.join();
  records = log->ReadNext(&only_new, 10);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].sequence(), 6u);
  EXPECT_EQ((*records)[0].event().request_id(), "req-6");
}

TEST_F(AuditLogTest, InvalidEventIsRefusedWithoutUsingASequence) {
  auto log = OpenLog();
  v1::AuditEvent event = MakeEvent(1);
  event.set_decision(v1::DECISION_UNSPECIFIED);
  EXPECT_EQ(log->Append(event).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<uint64_t> sequence = log->Append(MakeEvent(1));
  ASSERT_TRUE(sequence.ok());
  EXPECT_EQ(*sequence, 1u);
}

TEST_F(AuditLogTest, RefusesALogOthersCanRead) {
  WriteFile(LogPath(), "");
  ::chmod(LogPath().c_str(), 0640);
  absl::StatusOr<std::unique_ptr<AuditLog>> log =
      AuditLog::Open(dir_.path(), kKey);
  EXPECT_EQ(log.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(log.status().message().find("chmod 600"), std::string::npos);
}

// A failed write must fail the batch (fail closed) without using a
// sequence number, and leave nothing unacknowledged in the file; once
// writes work again, appends resume. The child process makes writes fail
// by lowering its file size limit.
TEST_F(AuditLogTest, WriteFailureFailsClosed) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto log = AuditLog::Open(dir_.path(), kKey);
    if (!log.ok()) ::_exit(10);
    for (int i = 1; i <= 2; ++i) {
      if (!(*log)->Append(MakeEvent(i)).ok()) ::_exit(11);
    }
    const std::string before = ReadFile(LogPath());
    ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit limit = {before.size() + 100, before.size() + 100};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(12);
    absl::StatusOr<uint64_t> failed = (*log)->Append(MakeEvent(3));
    if (failed.status().code() != absl::StatusCode::kUnavailable) ::_exit(13);
    if (!absl::StrContains(failed.status().message(),
                           "audit log write failed")) {
      ::_exit(14);
    }
    if (ReadFile(LogPath()) != before) ::_exit(15);
    if ((*log)->Append(MakeEvent(3)).ok()) ::_exit(16);  // Still failing.
    limit = {RLIM_INFINITY, RLIM_INFINITY};
    // Raising the limit again needs root.
    if (::setrlimit(RLIMIT_FSIZE, &limit) == 0) {
      absl::StatusOr<uint64_t> resumed = (*log)->Append(MakeEvent(3));
      if (!resumed.ok() || *resumed != 3) ::_exit(17);
      ::_exit(0);
    }
    ::_exit(30);  // Could not raise the limit (no CAP_SYS_RESOURCE).
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  const bool resumed = WEXITSTATUS(status) == 0;
  ASSERT_TRUE(resumed || WEXITSTATUS(status) == 30) << WEXITSTATUS(status);
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->last_sequence(), resumed ? 3u : 2u);
  absl::StatusOr<v1::VerifyResponse> result = log->Verify(0, 0);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->ok());
}

}  // namespace
}  // namespace latchkey::audit_sink
