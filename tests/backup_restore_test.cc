// Backup and restore with the real stack: latchkeyctl backup while the
// stack serves requests, stop it, refuse damaged backups and non-empty
// targets, restore into fresh state directories, start a new stack on
// them, unseal, serve the same requests, and check the audit chain
// verifies and continues.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/mcp_test_client.h"
#include "tests/stack.h"

namespace latchkey::testing {
namespace {

using nlohmann::json;

// Run runs a shell command (bounded by `timeout`), its output into
// `output`; returns the exit code.
int RunShell(const std::string& command, std::string* output) {
  char out[] = "/tmp/lk-out-XXXXXX";
  int fd = mkstemp(out);
  if (fd >= 0) ::close(fd);
  int status = std::system(
      absl::StrCat("timeout 120 ", command, " >", out, " 2>&1").c_str());
  *output = ReadFileOrEmpty(out);
  ::unlink(out);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string Ctl(const Stack& stack) {
  return "ctl/latchkeyctl --run_dir=" + stack.dir() + "/run";
}

json Execute(McpTestClient* client, const std::string& path) {
  auto result = client->CallTool(
      "execute",
      {{"capability", "demo-api"}, {"method", "GET"}, {"path", path}});
  return result.ok() ? *result : json{{"isError", true}};
}

bool Served(const json& result) {
  return !result.value("isError", false) &&
         result["structuredContent"].value("status", 0) == 200;
}

uint64_t LastSequence(const std::string& log_path) {
  uint64_t last = 0;
  for (absl::string_view line :
       absl::StrSplit(ReadFileOrEmpty(log_path), '\n', absl::SkipEmpty())) {
    json record = json::parse(line, nullptr, false);
    if (!record.is_discarded() && record.contains("seq")) {
      last = record["seq"].get<uint64_t>();
    }
  }
  return last;
}

mode_t Mode(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 0777) : 0;
}

TEST(BackupRestoreTest, BackupWhileServingThenRestoreAndServeTheSame) {
  auto started = Stack::Start(StackOptions());
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<Stack> stack = std::move(*started);
  McpTestClient client(stack->mcp());
  ASSERT_TRUE(client.Initialize().ok());
  ASSERT_TRUE(Served(Execute(&client, "/v1/before-backup")));

  char work_template[] = "/tmp/lk-bk-XXXXXX";
  ASSERT_NE(mkdtemp(work_template), nullptr);
  const std::string work = work_template;
  const std::string backup = work + "/backup";

  // Requests keep flowing while the backup runs.
  std::atomic<bool> stop{false};
  std::atomic<int> served{0}, failed{0};
  std::thread traffic([&] {
    for (int i = 0; i < 2000 && !stop.load(); ++i) {
      (Served(Execute(&client, absl::StrCat("/v1/during/", i))) ? served
                                                                : failed)++;
    }
  });
  std::string output;
  int rc = RunShell(Ctl(*stack) + " backup " + backup, &output);
  stop = true;
  traffic.join();
  ASSERT_EQ(rc, 0) << output;
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(served.load(), 0);
  std::cout << "requests served during the backup: " << served.load() << "\n"
            << output;

  // The backup: a private directory with a manifest of every file.
  EXPECT_EQ(Mode(backup), 0700u);
  json manifest = json::parse(ReadFileOrEmpty(backup + "/manifest.json"));
  std::set<std::string> files;
  for (const json& entry : manifest["files"]) {
    const std::string path =
        absl::StrCat(backup, "/", entry["daemon"].get<std::string>(), "/",
                     entry["file"].get<std::string>());
    files.insert(entry["daemon"].get<std::string>() + "/" +
                 entry["file"].get<std::string>());
    EXPECT_EQ(Mode(path), 0600u) << path;
    EXPECT_EQ(entry["daemon_version"], "0.1.0");
  }
  for (const char* expected :
       {"vault/vault.db", "broker/broker.db", "audit/audit.log",
        "audit/hmac.key", "audit/checkpoint.key"}) {
    EXPECT_EQ(files.count(expected), 1u) << expected << "\n" << output;
  }
  // The vault snapshot is encrypted: the secret is not in it.
  EXPECT_FALSE(absl::StrContains(ReadFileOrEmpty(backup + "/vault/vault.db"),
                                 Stack::kSecret));
  // No temporary snapshot is left in the live state directories.
  EXPECT_TRUE(
      ReadFileOrEmpty(stack->state_dir("vault") + "/vault.db.backup-tmp")
          .empty());
  const uint64_t backed_up_last = LastSequence(backup + "/audit/audit.log");
  EXPECT_GT(backed_up_last, 0u);

  // A sealed vault backs up too: the store is never decrypted for it.
  ASSERT_TRUE(stack->SealVault().ok());
  EXPECT_EQ(RunShell(Ctl(*stack) + " backup " + work + "/sealed", &output), 0)
      << output;
  ASSERT_TRUE(stack->UnsealVault().ok());
  // A backup never reuses a directory.
  EXPECT_EQ(RunShell(Ctl(*stack) + " backup " + backup, &output), 1);
  EXPECT_TRUE(absl::StrContains(output, "pick another name")) << output;

  // Stop everything but the upstream, which the restored state names.
  const std::vector<std::string> unseal_keys = stack->unseal_keys();
  const std::string token = stack->agent_token();
  stack->StopDaemons();

  const std::string restored = work + "/restored";
  const std::string targets =
      absl::StrCat(" --vault_state_dir=", restored, "/vault",
                   " --broker_state_dir=", restored, "/broker",
                   " --audit_state_dir=", restored, "/audit");
  // Refused: a non-empty target, then a tampered file. Nothing is written.
  ASSERT_EQ(::mkdir(restored.c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((restored + "/broker").c_str(), 0700), 0);
  std::ofstream(restored + "/broker/leftover") << "x";
  EXPECT_EQ(
      RunShell(Ctl(*stack) + " restore --from=" + backup + targets, &output),
      1);
  EXPECT_TRUE(absl::StrContains(output, "not an empty directory")) << output;
  EXPECT_EQ(Mode(restored + "/vault"), 0u) << "restore wrote something";
  ASSERT_EQ(::unlink((restored + "/broker/leftover").c_str()), 0);

  const std::string tampered = work + "/tampered";
  ASSERT_EQ(RunShell("cp -a " + backup + " " + tampered, &output), 0);
  {
    std::fstream db(tampered + "/broker/broker.db",
                    std::ios::in | std::ios::out | std::ios::binary);
    db.seekp(200);
    db.put('\x5a');
  }
  EXPECT_EQ(
      RunShell(Ctl(*stack) + " restore --from=" + tampered + targets, &output),
      1);
  EXPECT_TRUE(absl::StrContains(output, "does not match the manifest"))
      << output;
  EXPECT_EQ(Mode(restored + "/vault"), 0u) << "restore wrote something";

  // A manifest naming a file outside the state directory is refused.
  const std::string escaping = work + "/escaping";
  ASSERT_EQ(RunShell("cp -a " + backup + " " + escaping, &output), 0);
  {
    json changed = json::parse(ReadFileOrEmpty(escaping + "/manifest.json"));
    changed["files"][0]["file"] = "../../escaped";
    std::ofstream(escaping + "/manifest.json") << changed.dump();
  }
  EXPECT_EQ(
      RunShell(Ctl(*stack) + " restore --from=" + escaping + targets, &output),
      1);
  EXPECT_TRUE(absl::StrContains(output, "bad manifest entry")) << output;
  EXPECT_EQ(Mode(restored + "/vault"), 0u) << "restore wrote something";

  // The real restore, then the offline verifier on the restored log.
  ASSERT_EQ(
      RunShell(Ctl(*stack) + " restore --from=" + backup + targets, &output), 0)
      << output;
  for (const char* daemon : {"vault", "broker", "audit"}) {
    EXPECT_EQ(Mode(restored + "/" + daemon), 0700u) << daemon;
  }
  EXPECT_EQ(Mode(restored + "/vault/vault.db"), 0600u);
  EXPECT_EQ(Mode(restored + "/audit/hmac.key"), 0600u);
  ASSERT_EQ(RunShell("audit_sink/latchkey-audit-verify --state_dir=" +
                         restored + "/audit",
                     &output),
            0)
      << output;

  // A new stack on the restored state serves the same requests.
  StackOptions options;
  options.state_dir = restored;
  options.unseal_keys = unseal_keys;
  options.agent_token = token;
  options.upstream_origin = stack->upstream_origin();
  auto second = Stack::Start(options);
  ASSERT_TRUE(second.ok()) << second.status();
  McpTestClient restored_client((*second)->mcp());
  ASSERT_TRUE(restored_client.Initialize().ok());
  json result = Execute(&restored_client, "/v1/after-restore");
  ASSERT_TRUE(Served(result)) << result.dump();
  // The upstream saw the real token, injected by the restored vault.
  std::string upstream = ReadFileOrEmpty(stack->upstream_record_path());
  EXPECT_TRUE(absl::StrContains(upstream, "/v1/after-restore"));
  EXPECT_TRUE(
      absl::StrContains(upstream, std::string("Bearer ") + Stack::kSecret));

  // The chain continues from the backup and verifies, online too.
  EXPECT_GT(LastSequence((*second)->audit_log_path()), backed_up_last);
  ASSERT_EQ(RunShell(Ctl(**second) + " --json audit verify", &output), 0)
      << output;
  EXPECT_TRUE(absl::StrContains(output, "\"ok\": true")) << output;

  second->reset();
  stack.reset();
  if (getenv("LATCHKEY_KEEP_TEST_DIR") == nullptr) {
    (void)!std::system(("rm -rf '" + work + "'").c_str());
  }
}

}  // namespace
}  // namespace latchkey::testing
