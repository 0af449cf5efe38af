#include "audit_sink/audit_service.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include "audit_sink/audit_log.h"
#include "audit_sink/audit_record.h"
#include "audit_sink/checkpoint.h"
#include "audit_sink/test_util.h"
#include "common/audit_recorder.h"
#include "common/limits.h"
#include "common/uds_server.h"
#include "gtest/gtest.h"
#include "proto/audit.grpc.pb.h"

namespace latchkey::audit_sink {
namespace {

const std::string kKey(32, 'k');

std::chrono::system_clock::time_point Deadline(int seconds = 10) {
  return std::chrono::system_clock::now() + std::chrono::seconds(seconds);
}

class AuditServiceTest : public ::testing::Test {
 protected:
  // StartSink serves a fresh log on a real Unix socket.
  void StartSink(const std::vector<uid_t>& writers,
                 const std::vector<uid_t>& operators,
                 const AuditLogOptions& log_options = AuditLogOptions()) {
    auto log = AuditLog::Open(dir_.path(), kKey, log_options);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(*log);
    guard_.AllowUids(kWriterRole, writers);
    guard_.AllowUids(kOperatorRole, operators);
    PermitAuditMethods(&guard_);
    append_ = std::make_unique<AuditAppendService>(log_.get(), &guard_);
    admin_ = std::make_unique<AuditAdminService>(log_.get(), &guard_);
    socket_ = dir_.path() + "/audit.sock";
    UdsServerOptions options;
    options.socket_path = socket_;
    options.guard = &guard_;
    options.reflection = true;
    auto server = UdsServer::Start(options, {append_.get(), admin_.get()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    channel_ = CreateUdsChannel(socket_);
    append_stub_ = v1::AuditAppend::NewStub(channel_);
    admin_stub_ = v1::AuditAdmin::NewStub(channel_);
  }
  void TearDown() override {
    if (server_ != nullptr) {
      admin_->BeginShutdown();
      server_->Shutdown();
    }
  }

  grpc::Status Append(const v1::AuditEvent& event, uint64_t* sequence) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::AppendRequest request;
    *request.mutable_event() = event;
    v1::AppendResponse response;
    grpc::Status status = append_stub_->Append(&context, request, &response);
    *sequence = response.sequence();
    return status;
  }
  grpc::Status Query(const v1::QueryRequest& request,
                     v1::QueryResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    return admin_stub_->Query(&context, request, response);
  }
  grpc::Status Verify(const v1::VerifyRequest& request,
                      v1::VerifyResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    return admin_stub_->Verify(&context, request, response);
  }

  grpc::Status GetCheckpoint(v1::GetCheckpointResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    return admin_stub_->GetCheckpoint(&context, v1::GetCheckpointRequest(),
                                      response);
  }

  TempDir dir_;
  std::string socket_;
  std::unique_ptr<AuditLog> log_;
  PeerGuard guard_;
  std::unique_ptr<AuditAppendService> append_;
  std::unique_ptr<AuditAdminService> admin_;
  std::unique_ptr<UdsServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AuditAppend::Stub> append_stub_;
  std::unique_ptr<v1::AuditAdmin::Stub> admin_stub_;
};

TEST_F(AuditServiceTest, AppendQueryVerify) {
  StartSink({getuid()}, {getuid()});
  for (int i = 1; i <= 3; ++i) {
    uint64_t sequence = 0;
    grpc::Status status = Append(MakeEvent(i), &sequence);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(sequence, static_cast<uint64_t>(i));
  }
  v1::QueryRequest query;
  query.set_agent("agent-a");
  v1::QueryResponse records;
  grpc::Status status = Query(query, &records);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(records.records_size(), 3);
  EXPECT_EQ(records.records(2).sequence(), 3u);
  EXPECT_EQ(records.records(2).event().request_id(), "req-3");
  EXPECT_EQ(records.records(2).event().reason_code(), v1::REASON_ALLOWED);

  v1::VerifyResponse verdict;
  status = Verify(v1::VerifyRequest(), &verdict);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(verdict.ok());
  EXPECT_EQ(verdict.records_checked(), 3u);
}

// Several followers, each on its own connection, receive every record
// once and in order while several writers append and the log rotates.
TEST_F(AuditServiceTest, SeveralFollowersReceiveEveryRecordInOrder) {
  AuditLogOptions options;
  options.max_file_bytes = 4096;  // Rotates every few records.
  StartSink({getuid()}, {getuid()}, options);
  for (int i = 1; i <= 5; ++i) {
    uint64_t sequence;
    ASSERT_TRUE(Append(MakeEvent(i), &sequence).ok());
  }
  constexpr int kTotal = 120;
  constexpr int kFollowers = 4;
  auto follow = [&](std::vector<v1::AuditRecord>* received,
                    grpc::Status* status) {
    auto stub = v1::AuditAdmin::NewStub(CreateUdsChannel(socket_));
    grpc::ClientContext context;
    context.set_deadline(Deadline(60));
    v1::TailRequest request;
    request.set_from_sequence(1);
    auto reader = stub->Tail(&context, request);
    v1::AuditRecord record;
    while (received->size() < kTotal && reader->Read(&record)) {
      received->push_back(record);
    }
    context.TryCancel();
    *status = reader->Finish();
  };
  std::vector<std::vector<v1::AuditRecord>> received(kFollowers);
  std::vector<grpc::Status> statuses(kFollowers);
  std::vector<std::thread> followers;
  for (int f = 0; f < kFollowers; ++f) {
    followers.emplace_back(follow, &received[f], &statuses[f]);
  }
  // Append the rest from several writers while they follow.
  std::vector<std::thread> writers;
  for (int w = 0; w < 5; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < (kTotal - 5) / 5; ++i) {
        uint64_t sequence;
        EXPECT_TRUE(Append(MakeEvent(100 * w + i), &sequence).ok());
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  for (std::thread& follower : followers) follower.join();
  EXPECT_GT(log_->files().size(), 3u);
  for (int f = 0; f < kFollowers; ++f) {
    ASSERT_EQ(received[f].size(), static_cast<size_t>(kTotal));
    for (int i = 0; i < kTotal; ++i) {
      EXPECT_EQ(received[f][i].sequence(), static_cast<uint64_t>(i + 1));
      EXPECT_EQ(received[f][i].hmac(), received[0][i].hmac());
    }
    EXPECT_EQ(statuses[f].error_code(), grpc::StatusCode::CANCELLED);
  }
}

TEST_F(AuditServiceTest, TailFromZeroSendsOnlyNewRecords) {
  StartSink({getuid()}, {getuid()});
  uint64_t sequence;
  ASSERT_TRUE(Append(MakeEvent(1), &sequence).ok());
  grpc::ClientContext context;
  context.set_deadline(Deadline(30));
  auto reader = admin_stub_->Tail(&context, v1::TailRequest());
  std::atomic<uint64_t> first_seen{0};
  std::thread follower([&] {
    v1::AuditRecord record;
    if (reader->Read(&record)) first_seen.store(record.sequence());
  });
  // The stream starts asynchronously: keep appending until it sees one.
  for (int i = 0; i < 500 && first_seen.load() == 0; ++i) {
    ASSERT_TRUE(Append(MakeEvent(i + 2), &sequence).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  follower.join();
  EXPECT_GT(first_seen.load(), 1u);
  context.TryCancel();
  reader->Finish();
}

TEST_F(AuditServiceTest, ShutdownEndsOpenTailStreams) {
  StartSink({getuid()}, {getuid()});
  grpc::ClientContext context;
  context.set_deadline(Deadline(30));
  v1::TailRequest request;
  request.set_from_sequence(1);
  auto reader = admin_stub_->Tail(&context, request);
  uint64_t sequence;
  ASSERT_TRUE(Append(MakeEvent(1), &sequence).ok());
  v1::AuditRecord record;
  ASSERT_TRUE(reader->Read(&record));
  auto start = std::chrono::steady_clock::now();
  admin_->BeginShutdown();
  server_->Shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_FALSE(reader->Read(&record));
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_NE(access(socket_.c_str(), F_OK), 0) << "socket not removed";
  server_.reset();
}

TEST_F(AuditServiceTest, CallerWithoutTheRoleIsDenied) {
  StartSink({getuid()}, {getuid() + 4242});  // We are a writer only.
  uint64_t sequence;
  EXPECT_TRUE(Append(MakeEvent(1), &sequence).ok());
  v1::QueryResponse records;
  EXPECT_EQ(Query(v1::QueryRequest(), &records).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::VerifyResponse verdict;
  EXPECT_EQ(Verify(v1::VerifyRequest(), &verdict).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  auto reader = admin_stub_->Tail(&context, v1::TailRequest());
  v1::AuditRecord record;
  EXPECT_FALSE(reader->Read(&record));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

// GetCheckpoint's answer, kept elsewhere, is what Verify's expect takes:
// it passes on the same log and fails once the log no longer has it.
TEST_F(AuditServiceTest, GetCheckpointAnswersWhatVerifyExpects) {
  TempDir keys;
  auto key = CheckpointKey::LoadOrCreate(keys.path());
  ASSERT_TRUE(key.ok()) << key.status();
  AuditLogOptions options;
  options.checkpoint_key = key->get();
  options.checkpoint_every_records = 1;
  StartSink({getuid()}, {getuid()}, options);
  v1::GetCheckpointResponse empty;
  ASSERT_TRUE(GetCheckpoint(&empty).ok());
  EXPECT_EQ(empty.sequence(), 0u);
  EXPECT_EQ(empty.head_hash(), "");
  for (int i = 1; i <= 3; ++i) {
    uint64_t sequence = 0;
    ASSERT_TRUE(Append(MakeEvent(i), &sequence).ok());
  }
  v1::GetCheckpointResponse head;
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(GetCheckpoint(&head).ok());
    if (head.checkpoint_sequence() == 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(head.sequence(), 3u);
  std::vector<std::string> lines =
      SplitLines(ReadFile(dir_.path() + "/audit.log"));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(head.head_hash(), LineHash(lines[2]));
  ASSERT_EQ(head.checkpoint_sequence(), 3u);
  absl::StatusOr<Checkpoint> signed_head =
      ParseCheckpointLine(head.checkpoint_line(), **key);
  ASSERT_TRUE(signed_head.ok()) << signed_head.status();
  EXPECT_EQ(signed_head->head_hash, head.head_hash());

  v1::VerifyRequest request;
  v1::ExpectedHead* expect = request.add_expect();
  expect->set_sequence(head.sequence());
  expect->set_head_hash(head.head_hash());
  v1::VerifyResponse verdict;
  ASSERT_TRUE(Verify(request, &verdict).ok());
  EXPECT_TRUE(verdict.ok()) << verdict.detail();
  EXPECT_EQ(verdict.expectations_checked(), 1u);

  expect->set_sequence(2);  // Record 2 does not have record 3's hash.
  ASSERT_TRUE(Verify(request, &verdict).ok());
  EXPECT_FALSE(verdict.ok());
  EXPECT_EQ(verdict.problem(), "edited");
  EXPECT_EQ(verdict.first_bad_sequence(), 2u);

  expect->set_sequence(5);  // Never acknowledged: the log lost it.
  ASSERT_TRUE(Verify(request, &verdict).ok());
  EXPECT_FALSE(verdict.ok());
  EXPECT_EQ(verdict.problem(), "truncated");
  EXPECT_EQ(verdict.first_bad_sequence(), 4u);
  EXPECT_NE(verdict.detail().find("before record 5"), std::string::npos)
      << verdict.detail();

  expect->set_head_hash("not hex");
  EXPECT_EQ(Verify(request, &verdict).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AuditServiceTest, GetCheckpointIsForOperatorsOnly) {
  StartSink({getuid()}, {getuid() + 4242});  // We are a writer only.
  v1::GetCheckpointResponse head;
  EXPECT_EQ(GetCheckpoint(&head).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(AuditServiceTest, OperatorMayNotAppend) {
  StartSink({getuid() + 4242}, {getuid()});
  uint64_t sequence;
  grpc::Status status = Append(MakeEvent(1), &sequence);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(log_->last_sequence(), 0u);
  v1::QueryResponse records;
  EXPECT_TRUE(Query(v1::QueryRequest(), &records).ok());
}

TEST_F(AuditServiceTest, InvalidInputIsRefused) {
  StartSink({getuid()}, {getuid()});
  grpc::ClientContext context;
  v1::AppendResponse appended;
  EXPECT_EQ(append_stub_->Append(&context, v1::AppendRequest(), &appended)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::AuditEvent event = MakeEvent(1);
  event.set_reason(std::string(4097, 'r'));
  uint64_t sequence;
  EXPECT_EQ(Append(event, &sequence).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  v1::QueryRequest query;
  query.set_limit(1001);
  v1::QueryResponse records;
  EXPECT_EQ(Query(query, &records).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  query.set_limit(1000);
  EXPECT_TRUE(Query(query, &records).ok());
  query.mutable_start_time()->set_seconds(200);
  query.mutable_end_time()->set_seconds(100);
  EXPECT_EQ(Query(query, &records).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  v1::VerifyRequest verify;
  verify.set_first_sequence(5);
  verify.set_last_sequence(2);
  v1::VerifyResponse verdict;
  EXPECT_EQ(Verify(verify, &verdict).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AuditServiceTest, AppendBatchRecordsConsecutiveSequences) {
  StartSink({getuid()}, {getuid()});
  uint64_t sequence;
  ASSERT_TRUE(Append(MakeEvent(1), &sequence).ok());
  v1::AppendBatchRequest request;
  for (int i = 2; i <= 6; ++i) *request.add_events() = MakeEvent(i);
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  v1::AppendBatchResponse response;
  ASSERT_TRUE(append_stub_->AppendBatch(&context, request, &response).ok());
  EXPECT_EQ(response.first_sequence(), 2u);
  EXPECT_EQ(log_->last_sequence(), 6u);
  v1::QueryResponse records;
  ASSERT_TRUE(Query(v1::QueryRequest(), &records).ok());
  ASSERT_EQ(records.records_size(), 6);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(records.records(i).sequence(), static_cast<uint64_t>(i + 1));
    EXPECT_EQ(records.records(i).event().request_id(),
              MakeEvent(i + 1).request_id());
  }
  v1::VerifyResponse verdict;
  ASSERT_TRUE(Verify(v1::VerifyRequest(), &verdict).ok());
  EXPECT_TRUE(verdict.ok()) << verdict.DebugString();
}

TEST_F(AuditServiceTest, AppendBatchIsAllOrNothing) {
  StartSink({getuid()}, {getuid()});
  auto call = [&](const v1::AppendBatchRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::AppendBatchResponse response;
    return append_stub_->AppendBatch(&context, request, &response);
  };
  EXPECT_EQ(call(v1::AppendBatchRequest()).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::AppendBatchRequest too_many;
  for (size_t i = 0; i <= kMaxAuditBatchEvents; ++i) {
    *too_many.add_events() = MakeEvent(static_cast<int>(i));
  }
  grpc::Status status = call(too_many);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("256"), std::string::npos);
  v1::AppendBatchRequest one_bad;
  *one_bad.add_events() = MakeEvent(1);
  *one_bad.add_events() = MakeEvent(2);
  one_bad.mutable_events(1)->set_reason(
      std::string(kMaxAuditFieldBytes + 1, 'r'));
  EXPECT_EQ(call(one_bad).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(log_->last_sequence(), 0u);
}

// AppendBatch counts each event in latchkey_audit_appends_total exactly as
// Append does, so the metric does not depend on how writers batch.
TEST_F(AuditServiceTest, AppendBatchCountsEachEventLikeAppend) {
  StartSink({getuid()}, {getuid()});
  auto appends = [&](const std::string& outcome) -> uint64_t {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::MetricsSnapshot snapshot;
    EXPECT_TRUE(
        admin_stub_->GetMetrics(&context, v1::GetMetricsRequest(), &snapshot)
            .ok());
    for (const v1::MetricCounter& counter : snapshot.counters()) {
      if (counter.name() != "latchkey_audit_appends_total") continue;
      for (const v1::MetricCount& count : counter.counts()) {
        if (count.label_value() == outcome) return count.value();
      }
    }
    ADD_FAILURE() << "no latchkey_audit_appends_total{outcome=" << outcome
                  << "}";
    return 0;
  };
  const uint64_t ok_before = appends("ok");
  const uint64_t invalid_before = appends("invalid");
  uint64_t sequence;
  ASSERT_TRUE(Append(MakeEvent(1), &sequence).ok());
  EXPECT_EQ(appends("ok"), ok_before + 1);
  v1::AppendBatchRequest batch;
  for (int i = 2; i <= 4; ++i) *batch.add_events() = MakeEvent(i);
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  v1::AppendBatchResponse response;
  ASSERT_TRUE(append_stub_->AppendBatch(&context, batch, &response).ok());
  EXPECT_EQ(appends("ok"), ok_before + 4);
  v1::AppendBatchRequest one_bad;
  *one_bad.add_events() = MakeEvent(5);
  *one_bad.add_events() = MakeEvent(6);
  one_bad.mutable_events(1)->set_reason(
      std::string(kMaxAuditFieldBytes + 1, 'r'));
  grpc::ClientContext bad_context;
  bad_context.set_deadline(Deadline());
  EXPECT_EQ(
      append_stub_->AppendBatch(&bad_context, one_bad, &response).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(appends("invalid"), invalid_before + 2);
  EXPECT_EQ(appends("ok"), ok_before + 4);
}

TEST_F(AuditServiceTest, OperatorMayNotAppendBatch) {
  StartSink({getuid() + 4242}, {getuid()});
  v1::AppendBatchRequest request;
  *request.add_events() = MakeEvent(1);
  grpc::ClientContext context;
  v1::AppendBatchResponse response;
  EXPECT_EQ(
      append_stub_->AppendBatch(&context, request, &response).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(log_->last_sequence(), 0u);
}

// The broker's and vault's recorder against the real service: concurrent
// callers share AppendBatch calls, every event lands exactly once, and
// one invalid event costs only its own caller.
TEST_F(AuditServiceTest, RecorderBatchesConcurrentCallersOverTheSocket) {
  StartSink({getuid()}, {getuid()});
  std::unique_ptr<AuditRecorder> recorder =
      NewGrpcAuditRecorder(socket_, absl::Seconds(10));
  ASSERT_TRUE(recorder->Reachable());
  constexpr int kWriters = 32;
  constexpr int kEach = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kEach; ++i) {
        v1::AuditEvent event = MakeEvent(w * 1000 + i);
        if (w == 7 && i == 3) {
          // An event the sink refuses (no source) costs only its caller.
          event.set_source("");
          if (recorder->Record(event).ok()) failures.fetch_add(1);
          continue;
        }
        if (w == 9 && i == 5) {
          // An over-long field is cut by the recorder, never refused.
          event.set_reason(std::string(kMaxAuditFieldBytes + 1, 'r'));
        }
        if (!recorder->Record(event).ok()) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(log_->last_sequence(), static_cast<uint64_t>(kWriters * kEach - 1));
  std::set<std::string> ids;
  v1::QueryRequest query;
  query.set_limit(kMaxAuditQueryLimit);
  while (true) {
    v1::QueryResponse page;
    ASSERT_TRUE(Query(query, &page).ok());
    for (const v1::AuditRecord& record : page.records()) {
      EXPECT_TRUE(ids.insert(record.event().request_id()).second);
    }
    if (page.next_after_sequence() == 0) break;
    query.set_after_sequence(page.next_after_sequence());
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kWriters * kEach - 1));
  EXPECT_EQ(ids.count(MakeEvent(7 * 1000 + 3).request_id()), 0u);
  v1::VerifyResponse verdict;
  ASSERT_TRUE(Verify(v1::VerifyRequest(), &verdict).ok());
  EXPECT_TRUE(verdict.ok()) << verdict.DebugString();
}

TEST_F(AuditServiceTest, RecorderFailsClosedWhenTheSinkIsGone) {
  StartSink({getuid()}, {getuid()});
  std::unique_ptr<AuditRecorder> recorder =
      NewGrpcAuditRecorder(socket_, absl::Milliseconds(300));
  ASSERT_TRUE(recorder->Record(MakeEvent(1)).ok());
  admin_->BeginShutdown();
  server_->Shutdown();
  server_.reset();
  absl::Status status = recorder->Record(MakeEvent(2));
  EXPECT_FALSE(status.ok());
  EXPECT_FALSE(recorder->Reachable());
}

}  // namespace
}  // namespace latchkey::audit_sink
