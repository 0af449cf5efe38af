// Fail closed on a full disk: the log lives on a small tmpfs that the test
// mounts (needs root; skipped otherwise), the test fills it, appends fail
// with a clear error and leave nothing behind, and once space is freed
// appends resume with the next sequence number.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "audit_sink/audit_log.h"
#include "audit_sink/checkpoint.h"
#include "audit_sink/test_util.h"
#include "gtest/gtest.h"

namespace latchkey::audit_sink {
namespace {

const std::string kKey(32, 'k');

class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
    mount_ = dir_.path() + "/small";
    ASSERT_EQ(::mkdir(mount_.c_str(), 0700), 0);
    if (::mount("tmpfs", mount_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                "size=1m,mode=0700") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs: " << std::strerror(errno);
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) {
      log_.reset();
      key_.reset();
      EXPECT_EQ(::umount2(mount_.c_str(), MNT_DETACH), 0)
          << std::strerror(errno);
    }
  }
  TempDir dir_;
  std::string mount_;
  bool mounted_ = false;
  std::unique_ptr<CheckpointKey> key_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(DiskFullTest, AppendsFailClosedThenResumeWhenSpaceIsFreed) {
  auto key = CheckpointKey::LoadOrCreate(mount_);
  ASSERT_TRUE(key.ok()) << key.status();
  key_ = std::move(*key);
  AuditLogOptions options;
  options.checkpoint_key = key_.get();
  options.max_file_bytes = 64 * 1024;
  auto log = AuditLog::Open(mount_, kKey, options);
  ASSERT_TRUE(log.ok()) << log.status();
  log_ = std::move(*log);
  uint64_t acknowledged = 0;
  for (int i = 1; i <= 10; ++i) {
    auto sequence = log_->Append(MakeEvent(i));
    ASSERT_TRUE(sequence.ok()) << sequence.status();
    acknowledged = *sequence;
  }

  const std::string filler = mount_ + "/filler";
  ASSERT_GT(FillDisk(filler), 0u);
  // The log's last page may still have room for a record or two.
  absl::Status failure;
  for (int i = 0; i < 50 && failure.ok(); ++i) {
    auto sequence = log_->Append(MakeEvent(100 + i));
    if (sequence.ok()) {
      EXPECT_EQ(*sequence, acknowledged + 1);
      acknowledged = *sequence;
    } else {
      failure = sequence.status();
    }
  }
  ASSERT_FALSE(failure.ok()) << "appends kept succeeding on a full disk";
  EXPECT_EQ(failure.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(failure.message(), "audit log write failed"))
      << failure;
  EXPECT_TRUE(absl::StrContains(failure.message(), "No space left on device"))
      << failure;
  // Still full: still refused, and nothing unacknowledged is in the log.
  EXPECT_EQ(log_->Append(MakeEvent(200)).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(log_->last_sequence(), acknowledged);
  auto verdict = log_->Verify(0, 0);
  ASSERT_TRUE(verdict.ok()) << verdict.status();
  EXPECT_TRUE(verdict->ok()) << verdict->ShortDebugString();
  EXPECT_EQ(verdict->records_checked(), acknowledged);

  // Space is back: appends resume where the chain left off.
  ASSERT_EQ(::unlink(filler.c_str()), 0);
  for (int i = 1; i <= 5; ++i) {
    auto sequence = log_->Append(MakeEvent(300 + i));
    ASSERT_TRUE(sequence.ok()) << sequence.status();
    EXPECT_EQ(*sequence, acknowledged + 1);
    acknowledged = *sequence;
  }
  verdict = log_->Verify(0, 0);
  ASSERT_TRUE(verdict.ok());
  EXPECT_TRUE(verdict->ok()) << verdict->ShortDebugString();
  EXPECT_EQ(verdict->records_checked(), acknowledged);
}

// Rotation on a full disk: the new file cannot be created, the append
// fails, and the log carries on in the old file once there is room.
TEST_F(DiskFullTest, RotationOnAFullDiskFailsClosed) {
  AuditLogOptions options;
  options.max_file_bytes = 2000;  // About three records per file.
  auto log = AuditLog::Open(mount_, kKey, options);
  ASSERT_TRUE(log.ok()) << log.status();
  log_ = std::move(*log);
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE(log_->Append(MakeEvent(i)).ok());
  const std::string filler = mount_ + "/filler";
  ASSERT_GT(FillDisk(filler), 0u);
  absl::Status failure;
  for (int i = 0; i < 20 && failure.ok(); ++i) {
    failure = log_->Append(MakeEvent(10 + i)).status();
  }
  EXPECT_EQ(failure.code(), absl::StatusCode::kUnavailable) << failure;
  const uint64_t acknowledged = log_->last_sequence();
  ASSERT_EQ(::unlink(filler.c_str()), 0);
  auto sequence = log_->Append(MakeEvent(99));
  ASSERT_TRUE(sequence.ok()) << sequence.status();
  EXPECT_EQ(*sequence, acknowledged + 1);
  auto verdict = log_->Verify(0, 0);
  ASSERT_TRUE(verdict.ok());
  EXPECT_TRUE(verdict->ok()) << verdict->ShortDebugString();
}

}  // namespace
}  // namespace latchkey::audit_sink
