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

namespace latchkey::audit_sink {
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

// The review's attack: whoever can write the state directory cuts the
// log's last records and empties checkpoints.jsonl, and the files alone
// still verify. A head taken earlier with GetCheckpoint and kept off the
// host catches it, and catches a history rewritten after the cut.
TEST_F(AuditMainTest, HeadKeptElsewhereCatchesACutTailAndARewrite) {
  const std::vector<std::string> daemon_argv = {
      Binary("latchkey-audit"), "--socket=" + socket_, "--state_dir=" + state_,
      "--checkpoint_every_records=2"};
  pid_t daemon = Spawn(daemon_argv, log_);
  ASSERT_TRUE(WaitReady(daemon)) << ReadFile(log_);
  auto channel = CreateUdsChannel(socket_);
  auto append = v1::AuditAppend::NewStub(channel);
  auto admin = v1::AuditAdmin::NewStub(channel);
  auto append_one = [&](int n) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    v1::AppendRequest request;
    *request.mutable_event() = MakeEvent(n);
    v1::AppendResponse response;
    grpc::Status status = append->Append(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.sequence();
  };
  auto head = [&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    v1::GetCheckpointResponse response;
    grpc::Status status =
        admin->GetCheckpoint(&context, v1::GetCheckpointRequest(), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return absl::StrCat(response.sequence(), ":", response.head_hash());
  };
  for (int i = 1; i <= 5; ++i) ASSERT_EQ(append_one(i), uint64_t(i));
  const std::string head5 = head();
  for (int i = 6; i <= 8; ++i) ASSERT_EQ(append_one(i), uint64_t(i));
  const std::string head8 = head();
  ASSERT_TRUE(absl::StartsWith(head5, "5:")) << head5;
  ASSERT_TRUE(absl::StartsWith(head8, "8:")) << head8;
  ASSERT_EQ(::kill(daemon, SIGTERM), 0);
  ASSERT_EQ(WaitExit(daemon, std::chrono::seconds(15)), 0) << ReadFile(log_);

  auto verify = [&](const std::vector<std::string>& flags,
                    const std::string& output) {
    std::vector<std::string> argv = {
        Binary("latchkey-audit-verify"), "--state_dir=" + state_,
        "--public_key=" + state_ + "/checkpoint.pub"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return WaitExit(Spawn(argv, output), std::chrono::seconds(30));
  };
  const std::string intact = dir_.path() + "/verify.intact";
  EXPECT_EQ(verify({"--expect=" + head5 + "," + head8}, intact), 0)
      << ReadFile(intact);
  EXPECT_TRUE(absl::StrContains(ReadFile(intact), "2 of 2 expected heads"))
      << ReadFile(intact);
  // Repeated rather than a comma list: every one counts.
  EXPECT_EQ(verify({"--expect=" + head5, "--expect=" + head8}, intact), 0)
      << ReadFile(intact);
  EXPECT_TRUE(absl::StrContains(ReadFile(intact), "2 of 2 expected heads"))
      << ReadFile(intact);

  // Cut records 5..8 and the checkpoints that name them.
  std::vector<std::string> lines = SplitLines(ReadFile(state_ + "/audit.log"));
  ASSERT_EQ(lines.size(), 8u);
  lines.resize(4);
  WriteFile(state_ + "/audit.log", JoinLines(lines));
  WriteFile(state_ + "/checkpoints.jsonl", "");
  const std::string plain = dir_.path() + "/verify.plain";
  EXPECT_EQ(verify({}, plain), 0) << "the gap this closes: " << ReadFile(plain);
  const std::string cut = dir_.path() + "/verify.cut";
  EXPECT_EQ(verify({"--expect=" + head8, "--expect=" + head5}, cut), 1)
      << ReadFile(cut);
  EXPECT_TRUE(absl::StrContains(
      ReadFile(cut),
      "FAILED: " + state_ + ": truncated at sequence 5 (4 records verified"))
      << ReadFile(cut);
  EXPECT_TRUE(absl::StrContains(ReadFile(cut),
                                "the log ends at record 4, before record 5"))
      << ReadFile(cut);

  // The sink restarts on the cut log and carries on with a different
  // record 5: a consistent chain under its own key, but not the history
  // the operator saw. The live Verify sees the lost records too.
  log_ = dir_.path() + "/daemon.restarted.log";  // WaitReady reads it.
  daemon = Spawn(daemon_argv, log_);
  ASSERT_TRUE(WaitReady(daemon)) << ReadFile(log_);
  channel = CreateUdsChannel(socket_);
  append = v1::AuditAppend::NewStub(channel);
  admin = v1::AuditAdmin::NewStub(channel);
  ASSERT_EQ(append_one(99), 5u);
  EXPECT_NE(head(), head5);
  {
    grpc::ClientContext context;
    v1::VerifyRequest request;
    v1::ExpectedHead* expect = request.add_expect();
    expect->set_sequence(8);
    expect->set_head_hash(head8.substr(2));
    v1::VerifyResponse verdict;
    ASSERT_TRUE(admin->Verify(&context, request, &verdict).ok());
    EXPECT_FALSE(verdict.ok());
    EXPECT_EQ(verdict.problem(), "truncated");
    EXPECT_EQ(verdict.first_bad_sequence(), 6u);
  }
  ASSERT_EQ(::kill(daemon, SIGTERM), 0);
  ASSERT_EQ(WaitExit(daemon, std::chrono::seconds(15)), 0) << ReadFile(log_);
  EXPECT_EQ(verify({}, plain), 0) << ReadFile(plain);
  const std::string rewritten = dir_.path() + "/verify.rewritten";
  EXPECT_EQ(verify({"--expect=" + head5}, rewritten), 1) << ReadFile(rewritten);
  EXPECT_TRUE(absl::StrContains(ReadFile(rewritten), "edited at sequence 5"))
      << ReadFile(rewritten);
  EXPECT_TRUE(
      absl::StrContains(ReadFile(rewritten), "not to the expected head"))
      << ReadFile(rewritten);
  const std::string bad_flag = dir_.path() + "/verify.flag";
  EXPECT_EQ(verify({"--expect=5"}, bad_flag), 1);
  EXPECT_TRUE(absl::StrContains(ReadFile(bad_flag), "error: an expected head"))
      << ReadFile(bad_flag);
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
}  // namespace latchkey::audit_sink
