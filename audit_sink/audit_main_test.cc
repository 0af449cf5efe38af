// Runs the real latchkey-audit and latchkey-audit-verify binaries.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "audit_sink/test_util.h"
#include "common/uds_server.h"
#include "gtest/gtest.h"
#include "proto/audit.grpc.pb.h"

namespace latchkey {
namespace {

// RunVerify runs latchkey-audit-verify and returns its exit code.
int RunVerify(const std::string& state_dir, const std::string& output) {
  pid_t pid = Spawn(
      {Binary("latchkey-audit-verify"), "--state_dir=" + state_dir}, output);
  return WaitExit(pid, std::chrono::seconds(30));
}

class AuditMainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_ = dir_.path() + "/run/audit.sock";
    state_ = dir_.path() + "/state/audit";
    log_ = dir_.path() + "/daemon.log";
  }
  pid_t StartDaemon() {
    return Spawn({Binary("latchkey-audit"), "--socket=" + socket_,
                  "--state_dir=" + state_},
                 log_);
  }
  bool WaitReady(pid_t pid) {
    for (int i = 0; i < 1000; ++i) {
      if (absl::StrContains(ReadFile(log_), "\"event\":\"ready\"")) return true;
      int status;
      if (::waitpid(pid, &status, WNOHANG) == pid) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  TempDir dir_;
  std::string socket_, state_, log_;
};

TEST_F(AuditMainTest, ServesAppendsStopsCleanlyAndVerifiesOffline) {
  pid_t daemon = StartDaemon();
  ASSERT_TRUE(WaitReady(daemon)) << ReadFile(log_);
  struct stat st;
  ASSERT_EQ(::stat(state_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((state_ + "/hmac.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto channel = CreateUdsChannel(socket_);
  auto append = v1::AuditAppend::NewStub(channel);
  for (int i = 1; i <= 3; ++i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    v1::AppendRequest request;
    *request.mutable_event() = MakeEvent(i);
    v1::AppendResponse response;
    grpc::Status status = append->Append(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.sequence(), static_cast<uint64_t>(i));
  }
  auto admin = v1::AuditAdmin::NewStub(channel);
  {
    grpc::ClientContext context;
    v1::VerifyResponse verdict;
    ASSERT_TRUE(admin->Verify(&context, v1::VerifyRequest(), &verdict).ok());
    EXPECT_TRUE(verdict.ok());
    EXPECT_EQ(verdict.records_checked(), 3u);
  }

  // The channel stays open, as a broker's would: an idle connection from
  // another process holds shutdown for UdsServer's grace period (5 s).
  ASSERT_EQ(::kill(daemon, SIGTERM), 0);
  EXPECT_EQ(WaitExit(daemon, std::chrono::seconds(15)), 0) << ReadFile(log_);
  EXPECT_NE(::access(socket_.c_str(), F_OK), 0) << "socket not removed";
  const std::string daemon_log = ReadFile(log_);
  EXPECT_TRUE(absl::StrContains(daemon_log, "\"event\":\"stopped\""))
      << daemon_log;

  const std::string out = dir_.path() + "/verify.out";
  EXPECT_EQ(RunVerify(state_, out), 0) << ReadFile(out);
  EXPECT_TRUE(absl::StartsWith(ReadFile(out), "ok: ")) << ReadFile(out);

  std::vector<std::string> lines = SplitLines(ReadFile(state_ + "/audit.log"));
  ASSERT_EQ(lines.size(), 3u);
  lines[1][lines[1].find("GET")] = 'P';  // "GET" -> "PET"
  WriteFile(state_ + "/audit.log", JoinLines(lines));
  const std::string bad = dir_.path() + "/verify.bad";
  EXPECT_EQ(RunVerify(state_, bad), 1);
  EXPECT_TRUE(absl::StrContains(ReadFile(bad), "edited at sequence 2"))
      << ReadFile(bad);
}

// The daemon rotates by --max_file_bytes and signs checkpoints; the
// offline verifier needs only the files, the checkpoints and the public
// key (no HMAC key) to detect a truncated tail at its exact sequence.
TEST_F(AuditMainTest, RotatesAndVerifiesOfflineWithOnlyThePublicKey) {
  pid_t daemon = Spawn(
      {Binary("latchkey-audit"), "--socket=" + socket_, "--state_dir=" + state_,
       "--max_file_bytes=4096", "--checkpoint_every_records=10"},
      log_);
  ASSERT_TRUE(WaitReady(daemon)) << ReadFile(log_);
  struct stat st;
  ASSERT_EQ(::stat((state_ + "/checkpoint.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto append = v1::AuditAppend::NewStub(CreateUdsChannel(socket_));
  for (int i = 1; i <= 40; ++i) {
    grpc::ClientContext context;
    v1::AppendRequest request;
    *request.mutable_event() = MakeEvent(i);
    v1::AppendResponse response;
    ASSERT_TRUE(append->Append(&context, request, &response).ok());
    ASSERT_EQ(response.sequence(), static_cast<uint64_t>(i));
  }
  ASSERT_EQ(::kill(daemon, SIGTERM), 0);
  EXPECT_EQ(WaitExit(daemon, std::chrono::seconds(15)), 0) << ReadFile(log_);

  // What an operator keeps elsewhere: the files, checkpoints, public key.
  const std::string copy = dir_.path() + "/copy";
  ASSERT_EQ(::mkdir(copy.c_str(), 0700), 0);
  ASSERT_EQ(
      std::system(("cp " + state_ + "/audit.log* " + state_ +
                   "/checkpoints.jsonl " + state_ + "/checkpoint.pub " + copy)
                      .c_str()),
      0);
  ASSERT_NE(::access((copy + "/hmac.key").c_str(), F_OK), 0);
  auto verify = [&](const std::string& output) {
    return WaitExit(
        Spawn({Binary("latchkey-audit-verify"), "--state_dir=" + copy,
               "--public_key=" + copy + "/checkpoint.pub"},
              output),
        std::chrono::seconds(30));
  };
  const std::string good = dir_.path() + "/verify.good";
  EXPECT_EQ(verify(good), 0) << ReadFile(good);
  EXPECT_TRUE(absl::StrContains(ReadFile(good), "40 records verified"))
      << ReadFile(good);

  // Cut the last acknowledged record (a complete line, so only the
  // checkpoints can tell).
  std::string newest;
  for (int first = 40; first > 1 && newest.empty(); --first) {
    std::string name = absl::StrCat(
        copy, "/audit.log.",
        std::string(20 - std::to_string(first).size(), '0'), first);
    if (::access(name.c_str(), F_OK) == 0) newest = name;
  }
  ASSERT_FALSE(newest.empty()) << "no rotation";
  std::vector<std::string> lines = SplitLines(ReadFile(newest));
  ASSERT_GE(lines.size(), 2u);
  lines.pop_back();
  WriteFile(newest, JoinLines(lines));
  const std::string bad = dir_.path() + "/verify.bad";
  EXPECT_EQ(verify(bad), 1) << ReadFile(bad);
  EXPECT_TRUE(absl::StrContains(ReadFile(bad), "truncated at sequence 40"))
      << ReadFile(bad);
}

TEST_F(AuditMainTest, RefusesAnOpenStateDirectory) {
  ASSERT_EQ(::mkdir((dir_.path() + "/state").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir(state_.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(state_.c_str(), 0755), 0);
  pid_t daemon = StartDaemon();
  EXPECT_EQ(WaitExit(daemon, std::chrono::seconds(15)), 1);
  EXPECT_TRUE(absl::StrContains(ReadFile(log_), "chmod 700")) << ReadFile(log_);
  EXPECT_NE(::access(socket_.c_str(), F_OK), 0);
}

}  // namespace
}  // namespace latchkey
