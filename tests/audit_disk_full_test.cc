// Fail closed when the audit sink's disk is full, through the whole real
// stack: the sink's state directory is a 1 MiB tmpfs mounted by the test
// (needs root; skipped otherwise). With the disk full, the broker refuses
// requests with AUDIT_UNAVAILABLE and says so in the sink's log; once
// space is freed, requests go through again without restarting anything.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "audit_sink/test_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/mcp_test_client.h"
#include "tests/stack.h"

namespace latchkey::testing {
namespace {

using nlohmann::json;

class AuditDiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
    auto stack = Stack::Start(StackOptions());
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = std::move(*stack);
    // Move the sink onto a small tmpfs: stop it, mount over its state
    // directory, start it again (it creates a new log and keys there).
    stack_->StopAudit();
    state_ = stack_->dir() + "/state/audit";
    if (::mount("tmpfs", state_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                "size=1m,mode=0700") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs: " << std::strerror(errno);
    }
    mounted_ = true;
    ASSERT_TRUE(stack_->StartAudit().ok());
    client_ = std::make_unique<McpTestClient>(stack_->mcp());
    auto init = client_->Initialize();
    ASSERT_TRUE(init.ok()) << init.status();
  }
  void TearDown() override {
    client_.reset();
    if (stack_ != nullptr) stack_->StopAudit();
    if (mounted_) {
      EXPECT_EQ(::umount2(state_.c_str(), MNT_DETACH), 0)
          << std::strerror(errno);
    }
    stack_.reset();
  }
  json Execute(const std::string& path) {
    json args = {{"capability", "demo-api"}, {"method", "GET"}, {"path", path}};
    auto result = client_->CallTool("execute", args);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : json();
  }

  std::unique_ptr<Stack> stack_;
  std::unique_ptr<McpTestClient> client_;
  std::string state_;
  bool mounted_ = false;
};

TEST_F(AuditDiskFullTest, BrokerRefusesWhileTheAuditDiskIsFullAndResumes) {
  // The broker reconnects to the restarted sink on its own.
  json result;
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  do {
    result = Execute("/v1/before-full");
  } while (result.value("isError", false) && absl::Now() < deadline);
  ASSERT_FALSE(result.value("isError", false)) << result.dump();
  ASSERT_TRUE(absl::StrContains(ReadFileOrEmpty(state_ + "/audit.log"),
                                "/v1/before-full"));

  const std::string filler = state_ + "/filler";
  ASSERT_GT(audit_sink::FillDisk(filler), 0u);
  // The log's last page may still hold a record or two.
  json refused;
  for (int i = 0; i < 30; ++i) {
    refused = Execute("/v1/while-full");
    if (refused.value("isError", false)) break;
  }
  ASSERT_TRUE(refused.value("isError", false)) << refused.dump();
  EXPECT_EQ(refused["structuredContent"]["code"], "AUDIT_UNAVAILABLE")
      << refused.dump();
  // Still full: refused again. The intent record cannot be written, so
  // nothing is sent upstream (//tests:audit_under_failure_e2e_test counts
  // upstream hits against intent records under load).
  json again = Execute("/v1/still-full");
  EXPECT_TRUE(again.value("isError", false)) << again.dump();
  EXPECT_EQ(again["structuredContent"]["code"], "AUDIT_UNAVAILABLE");
  // The operator's log of the sink says why.
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(stack_->log_path("audit")),
                                "No space left on device"));

  ASSERT_EQ(::unlink(filler.c_str()), 0);
  deadline = absl::Now() + absl::Seconds(10);
  do {
    result = Execute("/v1/after-space-freed");
  } while (result.value("isError", false) && absl::Now() < deadline);
  EXPECT_FALSE(result.value("isError", false)) << result.dump();
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(state_ + "/audit.log"),
                                "/v1/after-space-freed"));
}

}  // namespace
}  // namespace latchkey::testing
