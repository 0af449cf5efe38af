// kill -9 loop: the real latchkey-audit is killed repeatedly while client
// threads append over the real socket; afterwards every acknowledged record
// is present, unchanged, and the log verifies (live and offline with only
// the public checkpoint key).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
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

size_t Count(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

class AuditCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_ = dir_.path() + "/audit.sock";
    state_ = dir_.path() + "/state";
    log_ = dir_.path() + "/daemon.log";
  }
  // Start runs the sink and waits for its `starts`-th ready line.
  pid_t Start(size_t starts) {
    pid_t pid = Spawn({Binary("latchkey-audit"), "--socket=" + socket_,
                       "--state_dir=" + state_, "--max_file_bytes=32768",
                       "--checkpoint_every_records=40"},
                      log_);
    for (int i = 0; i < 1000; ++i) {
      if (Count(ReadFile(log_), "\"event\":\"ready\"") >= starts) return pid;
      int status;
      if (::waitpid(pid, &status, WNOHANG) == pid) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  TempDir dir_;
  std::string socket_, state_, log_;
};

TEST_F(AuditCrashTest, KillNineDuringConcurrentAppendsLosesNoAcknowledged) {
  constexpr int kIterations = 10;
  constexpr int kWriters = 8;
  std::mutex mu;
  std::map<uint64_t, std::string> acknowledged;  // sequence -> request_id
  bool duplicate = false;
  std::mt19937 random(20261123);
  const auto test_start = std::chrono::steady_clock::now();

  for (int iteration = 0; iteration < kIterations; ++iteration) {
    pid_t daemon = Start(iteration + 1);
    ASSERT_GT(daemon, 0) << ReadFile(log_);
    std::atomic<bool> killed{false};
    std::atomic<int> acked_now{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        auto stub = v1::AuditAppend::NewStub(CreateUdsChannel(socket_));
        for (int i = 0;; ++i) {
          v1::AppendRequest request;
          *request.mutable_event() = MakeEvent(i);
          const std::string id = absl::StrCat("it", iteration, "-w", w, "-", i);
          request.mutable_event()->set_request_id(id);
          grpc::ClientContext context;
          context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(3));
          v1::AppendResponse response;
          grpc::Status status = stub->Append(&context, request, &response);
          if (!status.ok()) {
            if (killed.load()) return;
            continue;  // Not connected yet: retry.
          }
          std::lock_guard<std::mutex> lock(mu);
          duplicate |= !acknowledged.emplace(response.sequence(), id).second;
          acked_now.fetch_add(1);
        }
      });
    }
    // Let appends flow, then kill in the middle of them.
    const auto until = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(150 + random() % 250);
    while (std::chrono::steady_clock::now() < until || acked_now.load() < 20) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      ASSERT_LT(std::chrono::steady_clock::now() - test_start,
                std::chrono::seconds(50));
    }
    killed.store(true);
    ASSERT_EQ(::kill(daemon, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(daemon, &status, 0), daemon);
    EXPECT_TRUE(WIFSIGNALED(status));
    for (std::thread& writer : writers) writer.join();
    EXPECT_GT(acked_now.load(), 0);
  }
  ASSERT_FALSE(duplicate) << "a sequence number was acknowledged twice";

  // Restart once more: every acknowledged record is there, unchanged.
  pid_t daemon = Start(kIterations + 1);
  ASSERT_GT(daemon, 0) << ReadFile(log_);
  auto channel = CreateUdsChannel(socket_);
  auto admin = v1::AuditAdmin::NewStub(channel);
  {
    grpc::ClientContext context;
    v1::VerifyResponse verdict;
    ASSERT_TRUE(admin->Verify(&context, v1::VerifyRequest(), &verdict).ok());
    EXPECT_TRUE(verdict.ok()) << verdict.ShortDebugString();
    EXPECT_GE(verdict.records_checked(), acknowledged.rbegin()->first);
  }
  std::map<uint64_t, std::string> stored;
  v1::QueryRequest query;
  query.set_limit(1000);
  while (true) {
    grpc::ClientContext context;
    v1::QueryResponse page;
    ASSERT_TRUE(admin->Query(&context, query, &page).ok());
    for (const auto& record : page.records()) {
      stored[record.sequence()] = record.event().request_id();
    }
    if (page.next_after_sequence() == 0) break;
    query.set_after_sequence(page.next_after_sequence());
  }
  size_t missing = 0;
  for (const auto& [sequence, id] : acknowledged) {
    auto it = stored.find(sequence);
    if (it == stored.end() || it->second != id) ++missing;
  }
  EXPECT_EQ(missing, 0u) << "of " << acknowledged.size() << " acknowledged";
  std::cout << "acknowledged " << acknowledged.size() << " records over "
            << kIterations << " kill -9s; log holds " << stored.size() << "\n";
  ASSERT_EQ(::kill(daemon, SIGTERM), 0);
  EXPECT_EQ(WaitExit(daemon, std::chrono::seconds(15)), 0);

  // Offline, with only the files and the public key.
  const std::string out = dir_.path() + "/verify.out";
  pid_t verify =
      Spawn({Binary("latchkey-audit-verify"), "--state_dir=" + state_,
             "--hmac_key=" + state_ + "/hmac.key",
             "--public_key=" + state_ + "/checkpoint.pub"},
            out);
  EXPECT_EQ(WaitExit(verify, std::chrono::seconds(30)), 0) << ReadFile(out);
  EXPECT_LT(std::chrono::steady_clock::now() - test_start,
            std::chrono::seconds(60));
}

}  // namespace
}  // namespace latchkey::audit_sink
