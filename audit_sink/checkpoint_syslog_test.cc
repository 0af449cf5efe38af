#include "audit_sink/checkpoint_syslog.h"

#include <syslog.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "audit_sink/audit_log.h"
#include "audit_sink/checkpoint.h"
#include "audit_sink/test_util.h"
#include "gtest/gtest.h"

namespace latchkey::audit_sink {
namespace {

const std::string kKey(32, 'k');

// What the fake syslog() received, from whichever thread called it.
struct SyslogCall {
  int priority;
  std::string format;
  std::string message;
};
std::mutex calls_mu;
std::vector<SyslogCall> calls;

void FakeSyslog(int priority, const char* format, ...) {
  char message[2048];
  va_list args;
  va_start(args, format);
  std::vsnprintf(message, sizeof(message), format, args);
  va_end(args);
  std::lock_guard<std::mutex> lock(calls_mu);
  calls.push_back({priority, format, message});
}

std::vector<SyslogCall> Calls() {
  std::lock_guard<std::mutex> lock(calls_mu);
  return calls;
}

TEST(CheckpointSyslogTest, FormatsSequenceHeadTimeAndBase64Signature) {
  Checkpoint checkpoint;
  checkpoint.sequence = 42;
  checkpoint.head_hash = std::string(64, 'c');
  checkpoint.time = "2026-12-07T22:00:00.000000001Z";
  checkpoint.signature = std::string(64, '\xff');
  EXPECT_EQ(FormatCheckpointSyslogMessage(checkpoint),
            "latchkey-audit checkpoint seq=42 head=" + std::string(64, 'c') +
                " ts=2026-12-07T22:00:00.000000001Z sig=" +
                absl::Base64Escape(std::string(64, '\xff')));
}

// The log hands every durable checkpoint to on_checkpoint; the daemon's
// CheckpointSyslog passes it to syslog() as data ("%s"), at
// LOG_AUTHPRIV|LOG_NOTICE, and the line carries what a verifier needs:
// seq and head for --expect, ts and sig to check it with checkpoint.pub.
TEST(CheckpointSyslogTest, EveryCheckpointReachesSyslogWithoutEventContents) {
  TempDir dir;
  auto key = CheckpointKey::LoadOrCreate(dir.path());
  ASSERT_TRUE(key.ok()) << key.status();
  const CheckpointSyslog syslog(&FakeSyslog);
  AuditLogOptions options;
  options.checkpoint_key = key->get();
  options.checkpoint_every_records = 2;
  options.on_checkpoint = [&syslog](const Checkpoint& checkpoint) {
    syslog.Publish(checkpoint);
  };
  {
    auto log = AuditLog::Open(dir.path(), kKey, options);
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 1; i <= 4; ++i) {
      ASSERT_TRUE((*log)->Append(MakeEvent(i)).ok());
    }
    for (int i = 0; i < 500 && (*log)->checkpoint_sequence() < 4; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ((*log)->checkpoint_sequence(), 4u);
  }
  std::vector<std::string> file =
      SplitLines(ReadFile(dir.path() + "/checkpoints.jsonl"));
  std::vector<SyslogCall> sent = Calls();
  ASSERT_FALSE(file.empty());
  ASSERT_EQ(sent.size(), file.size());
  for (size_t i = 0; i < file.size(); ++i) {
    absl::StatusOr<Checkpoint> written = ParseCheckpointLine(file[i], **key);
    ASSERT_TRUE(written.ok()) << written.status();
    EXPECT_EQ(sent[i].priority, LOG_AUTHPRIV | LOG_NOTICE);
    EXPECT_EQ(sent[i].format, "%s");
    EXPECT_EQ(sent[i].message, FormatCheckpointSyslogMessage(*written));
    EXPECT_EQ(sent[i].message.find("agent-a"), std::string::npos);
    EXPECT_EQ(sent[i].message.find("/repos"), std::string::npos);
    // Rebuild the signed body from the syslog line alone and check it.
    std::vector<std::string> fields = absl::StrSplit(sent[i].message, ' ');
    ASSERT_EQ(fields.size(), 6u) << sent[i].message;
    std::string signature;
    ASSERT_TRUE(absl::Base64Unescape(fields[5].substr(4), &signature));
    const std::string body = "{\"seq\":" + fields[2].substr(4) +
                             ",\"head\":\"" + fields[3].substr(5) +
                             "\",\"ts\":\"" + fields[4].substr(3) + "\"}";
    EXPECT_TRUE((*key)->Verify(body, signature)) << body;
  }
  EXPECT_EQ(sent.back().message.find("seq=4 "), 26u) << sent.back().message;
}

}  // namespace
}  // namespace latchkey::audit_sink
