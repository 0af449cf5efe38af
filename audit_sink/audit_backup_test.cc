// AuditAdmin.Backup under load: with rotation and signed checkpoints, a
// backup taken while writers append must hold a log that ends on a record
// boundary, checkpoints that all fall inside it and the keys, so that a
// sink opened on the copy verifies it and continues the same chain.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <thread>

#include "audit_sink/audit_log.h"
#include "audit_sink/audit_service.h"
#include "audit_sink/checkpoint.h"
#include "audit_sink/test_util.h"
#include "common/backup_files.h"
#include "common/uds_server.h"
#include "gtest/gtest.h"
#include "proto/audit.grpc.pb.h"

namespace latchkey::audit_sink {
namespace {

const std::string kKey(32, 'k');

TEST(AuditBackupTest, SnapshotDuringAppendsVerifiesAndContinues) {
  TempDir live;
  auto checkpoint_key = CheckpointKey::LoadOrCreate(live.path());
  ASSERT_TRUE(checkpoint_key.ok()) << checkpoint_key.status();
  // hmac.key is the daemon's job (main.cc); the test writes the same bytes
  // so the backup has one to carry.
  std::ofstream(live.path() + "/hmac.key") << "not-read-by-this-test\n";
  AuditLogOptions options;
  options.max_file_bytes = 4000;  // Several rotations.
  options.checkpoint_key = checkpoint_key->get();
  options.checkpoint_every_records = 7;
  auto log = AuditLog::Open(live.path(), kKey, options);
  ASSERT_TRUE(log.ok()) << log.status();
  PeerGuard guard;
  guard.AllowUids(kOperatorRole, {getuid()});
  PermitAuditMethods(&guard);
  AuditAdminService admin(log->get(), &guard);
  UdsServerOptions server_options;
  server_options.socket_path = live.path() + "/audit.sock";
  server_options.guard = &guard;
  auto server = UdsServer::Start(server_options, {&admin});
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub =
      v1::AuditAdmin::NewStub(CreateUdsChannel(live.path() + "/audit.sock"));

  for (int i = 1; i <= 60; ++i) ASSERT_TRUE((*log)->Append(MakeEvent(i)).ok());
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < 400 && !stop.load(); ++i) {
        ASSERT_TRUE((*log)->Append(MakeEvent(1000 * (w + 1) + i)).ok());
      }
    });
  }
  // Receive the stream into a fresh directory, checking each file's hash.
  TempDir copy;
  std::map<std::string, std::string> received;
  {
    grpc::ClientContext context;
    auto reader = stub->Backup(&context, v1::BackupAuditRequest());
    v1::BackupChunk chunk;
    while (reader->Read(&chunk)) {
      ASSERT_TRUE(IsPlainFileName(chunk.file()));
      received[chunk.file()] += chunk.data();
      if (chunk.file_end()) {
        const std::string& data = received[chunk.file()];
        EXPECT_EQ(chunk.size(), data.size());
        Sha256Stream hash;
        hash.Update(data);
        EXPECT_EQ(chunk.sha256(), hash.FinishHex());
      }
    }
    grpc::Status status = reader->Finish();
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  stop = true;
  for (std::thread& t : writers) t.join();
  (*server)->Shutdown();

  EXPECT_GE(received.count("audit.log"), 1u);
  EXPECT_EQ(received.count("checkpoints.jsonl"), 1u);
  EXPECT_EQ(received.count("checkpoint.key"), 1u);
  EXPECT_EQ(received.count("hmac.key"), 1u);
  size_t log_files = 0;
  for (const auto& [name, data] : received) {
    if (name.rfind("audit.log", 0) == 0) {
      ++log_files;
      ASSERT_FALSE(data.empty());
      EXPECT_EQ(data.back(), '\n') << name << " does not end on a record";
    }
    int fd = ::open((copy.path() + "/" + name).c_str(),
                    O_WRONLY | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, data.data(), data.size()),
              static_cast<ssize_t>(data.size()));
    ::close(fd);
  }
  EXPECT_GT(log_files, 1u) << "expected rotated files";

  // A sink on the copy: same key, verifies (chain and checkpoints) and
  // continues the chain.
  auto copy_key = CheckpointKey::LoadOrCreate(copy.path());
  ASSERT_TRUE(copy_key.ok()) << copy_key.status();
  AuditLogOptions copy_options = options;
  copy_options.checkpoint_key = copy_key->get();
  auto restored = AuditLog::Open(copy.path(), kKey, copy_options);
  ASSERT_TRUE(restored.ok()) << restored.status();
  const uint64_t backed_up = (*restored)->last_sequence();
  EXPECT_GE(backed_up, 60u);
  auto verified = (*restored)->Verify(0, 0);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_TRUE(verified->ok()) << verified->problem();
  EXPECT_EQ(verified->records_checked(), backed_up);
  EXPECT_GT(verified->checkpoints_checked(), 0u);
  auto next = (*restored)->Append(MakeEvent(9999));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, backed_up + 1);
  verified = (*restored)->Verify(0, 0);
  ASSERT_TRUE(verified.ok() && verified->ok()) << verified->problem();
}

}  // namespace
}  // namespace latchkey::audit_sink
