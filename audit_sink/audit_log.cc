#include "audit_sink/audit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "audit_sink/audit_metrics.h"
#include "audit_sink/audit_record.h"
#include "audit_sink/chain_verifier.h"
#include "audit_sink/file_util.h"
#include "audit_sink/range_line_reader.h"
#include "audit_sink/log_recovery.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/secure_buffer.h"
#include "common/status_macros.h"

namespace latchkey::audit_sink {
namespace {

absl::Time ToTime(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) +
         absl::Nanoseconds(timestamp.nanos());
}

bool Matches(const v1::QueryRequest& request, const v1::AuditRecord& record) {
  const v1::AuditEvent& event = record.event();
  if (!request.agent().empty() && event.agent() != request.agent()) {
    return false;
  }
  if (!request.capability().empty() &&
      event.capability() != request.capability()) {
    return false;
  }
  if (request.decision() != v1::DECISION_UNSPECIFIED &&
      event.decision() != request.decision()) {
    return false;
  }
  absl::Time time = ToTime(record.time());
  if (request.has_start_time() && time < ToTime(request.start_time())) {
    return false;
  }
  if (request.has_end_time() && time >= ToTime(request.end_time())) {
    return false;
  }
  return true;
}

}  // namespace

// Pending is one queued Append, owned by its caller's stack frame.
struct AuditLog::Pending {
  // PrepareEventJson of each event of one caller, written consecutively.
  std::vector<std::string> prepared;
  uint64_t first_sequence = 0;
  absl::Status result;
  bool done = false;
  // Notified when the record is done, or when it heads the queue and
  // no leader is writing (so that its caller leads the next batch).
  std::condition_variable wake;
};

namespace {

// A leader waits at most half the last fdatasync's duration, and never
// longer than this, for writers expected to join its batch.
constexpr absl::Duration kMaxJoinWait = absl::Milliseconds(1);

absl::Status CheckLogFile(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot stat ", path, ": ", ErrnoText()));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not a regular file"));
  }
  if ((st.st_mode & 0077) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s has mode %04o: the audit log must be accessible by its owner "
        "only; run chmod 600 %s",
        path, st.st_mode & 07777, path));
  }
  return absl::OkStatus();
}

int OpenLogFile(const std::string& path, int extra_flags) {
  return ::open(path.c_str(),
                O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW | extra_flags, 0600);
}

// FileSize is where reading a complete (rotated) file stops.
uint64_t FileSize(int fd) {
  struct stat st;
  return ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(
    const std::string& dir, std::string hmac_key,
    const AuditLogOptions& options) {
  if (hmac_key.empty()) {
    return absl::InvalidArgumentError("the audit log needs an HMAC key");
  }
  LK_ASSIGN_OR_RETURN(std::vector<LogFile> files, ListLogFiles(dir));
  if (files.empty()) files.push_back({dir + "/" + kFirstLogName, 1});
  const LogFile active = files.back();
  const std::string& path = active.path;
  int fd = OpenLogFile(path, O_CREAT);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open ", path, ": ", ErrnoText()));
  }
  absl::Status status = CheckLogFile(fd, path);
  absl::StatusOr<RecoveredChain> chain =
      status.ok() ? RecoverChain(fd, dir, path, hmac_key) : status;
  if (chain.ok() && chain->size == 0 && files.size() > 1) {
    // A crash during rotation left the new file without its header:
    // write it from the previous file's last record.
    const LogFile& previous = files[files.size() - 2];
    int previous_fd = OpenLogFile(previous.path, 0);
    absl::StatusOr<RecoveredChain> before =
        previous_fd < 0
            ? absl::UnavailableError(absl::StrCat("cannot open ", previous.path,
                                                  ": ", ErrnoText()))
            : RecoverChain(previous_fd, dir, previous.path, hmac_key);
    if (previous_fd >= 0) ::close(previous_fd);
    if (before.ok() && before->last_sequence + 1 != active.first_sequence) {
      before = absl::DataLossError(absl::StrCat(
          previous.path, " ends with record ", before->last_sequence, " but ",
          path, " continues at ", active.first_sequence));
    }
    if (before.ok()) {
      std::string header = FormatHeaderLine(
          {before->last_sequence, before->last_hash}, absl::Now(), hmac_key);
      header.push_back('\n');
      status = WriteAll(fd, header);
      if (status.ok() && ::fdatasync(fd) != 0) {
        status =
            absl::UnavailableError(absl::StrCat("fdatasync: ", ErrnoText()));
      }
      chain->last_sequence = before->last_sequence;
      chain->last_hash = before->last_hash;
      chain->size = header.size();
      if (status.ok()) {
        LogWarning("rotation_completed_after_crash", {{"path", path}});
      }
    } else {
      chain = before.status();
    }
  }
  if (chain.ok() && status.ok()) status = SyncDirectory(dir);  // May be new.
  if (!chain.ok() || !status.ok()) {
    ::close(fd);
    return chain.ok() ? status : chain.status();
  }
  std::unique_ptr<AuditLog> log(
      new AuditLog(dir, std::move(files), fd, std::move(hmac_key), options,
                   chain->last_sequence, chain->last_hash, chain->size));
  if (options.checkpoint_key != nullptr) {
    LK_ASSIGN_OR_RETURN(log->checkpoint_file_,
                        CheckpointFile::Open(dir, options.checkpoint_key));
    log->checkpointed_ = log->checkpoint_file_->last_sequence();
    log->checkpoint_line_ = log->checkpoint_file_->last().line;
    if (log->checkpointed_ > log->last_sequence_) {
      return absl::DataLossError(absl::StrCat(
          "checkpoints.jsonl has a checkpoint for record ", log->checkpointed_,
          " but the log ends at record ", log->last_sequence_,
          ": acknowledged records were removed; run latchkey-audit-verify"));
    }
    log->checkpoint_thread_ =
        std::thread([raw = log.get()] { raw->CheckpointLoop(); });
  }
  LogInfo("audit_log_opened",
          {{"path", path},
           {"files", absl::StrCat(log->files_.size())},
           {"last_sequence", absl::StrCat(chain->last_sequence)},
           {"bytes", absl::StrCat(chain->size)}});
  return log;
}

AuditLog::AuditLog(std::string dir, std::vector<LogFile> files, int fd,
                   std::string hmac_key, const AuditLogOptions& options,
                   uint64_t last_sequence, std::string last_hash, uint64_t size)
    : dir_(std::move(dir)),
      options_(options),
      fd_(fd),
      hmac_key_(std::move(hmac_key)),
      files_(std::move(files)),
      last_sequence_(last_sequence),
      last_hash_(std::move(last_hash)),
      size_(size) {}

AuditLog::~AuditLog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  checkpoint_wake_.notify_all();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
  LogInfo("audit_log_closed", {{"last_sequence", absl::StrCat(last_sequence_)},
                               {"fdatasyncs", absl::StrCat(sync_count_.load())},
                               {"checkpoint", absl::StrCat(checkpointed_)}});
  ::close(fd_);
  CleanseString(&hmac_key_);
}

absl::StatusOr<uint64_t> AuditLog::Append(const v1::AuditEvent& event) {
  return AppendBatch({&event});
}

absl::StatusOr<uint64_t> AuditLog::AppendBatch(
    const std::vector<const v1::AuditEvent*>& events) {
  if (events.empty()) {
    return absl::InvalidArgumentError("an append needs at least one event");
  }
  // All or nothing: one invalid event refuses the whole batch.
  for (const v1::AuditEvent* event : events) {
    LK_RETURN_IF_ERROR(ValidateEvent(*event));
  }
  Pending pending;
  preparing_.fetch_add(1);
  pending.prepared.reserve(events.size());
  for (const v1::AuditEvent* event : events) {
    pending.prepared.push_back(PrepareEventJson(*event));  // Unlocked.
  }
  std::unique_lock<std::mutex> lock(mu_);
  preparing_.fetch_sub(1);
  if (!failed_.ok()) return failed_;
  queue_.push_back(&pending);
  if (leader_waiting_) queued_.notify_one();
  while (!pending.done) {
    if (writing_) {
      pending.wake.wait(lock);
      continue;
    }
    // Lead: write everything queued so far (our own record included) in
    // one batch. Only the leader touches the file, so the chain state can
    // be copied out and written back without holding the lock.
    writing_ = true;
    // The writers of the previous batch are likely on their way back
    // with their next record (and others are still serializing theirs):
    // let them join this batch rather than wait a whole fdatasync for the
    // next one. With a single writer (previous batch of one) nobody waits.
    if (queue_.size() < last_batch_size_ || preparing_.load() > 0) {
      leader_waiting_ = true;
      const auto deadline =
          std::chrono::steady_clock::now() +
          std::min(absl::ToChronoNanoseconds(kMaxJoinWait), last_sync_ / 2);
      while ((queue_.size() < last_batch_size_ || preparing_.load() > 0) &&
             queued_.wait_until(lock, deadline) != std::cv_status::timeout) {
      }
      leader_waiting_ = false;
    }
    std::vector<Pending*> batch;
    batch.swap(queue_);
    End end;
    end.sequence = last_sequence_;
    end.hash = last_hash_;
    end.fd = fd_;
    end.size = size_;
    end.file_first = files_.back().first_sequence;
    absl::Status status = failed_;
    lock.unlock();
    if (status.ok()) status = WriteBatch(batch, &end);
    lock.lock();
    if (end.rotated) {
      files_.push_back(end.file);
      if (checkpoint_file_ != nullptr) {
        rotation_checkpoints_.emplace_back(last_sequence_, last_hash_);
      }
      fd_ = end.fd;
      size_ = end.size;
    }
    if (status.ok()) {
      last_sequence_ = end.sequence;
      last_hash_ = std::move(end.hash);
      size_ = end.size;
    } else if (end.broken && failed_.ok()) {
      failed_ = status;  // Fail closed until reopened.
    }
    // Wake exactly the callers of this batch and the next leader, not
    // every waiter.
    for (Pending* done : batch) {
      done->result = status;
      done->done = true;
      if (done != &pending) done->wake.notify_one();
    }
    last_batch_size_ = batch.size();
    if (end.sync_time.count() > 0) last_sync_ = end.sync_time;
    if (end.sync_time.count() > 0) RecordAuditFsync(end.sync_time);
    writing_ = false;
    if (!queue_.empty()) queue_.front()->wake.notify_one();
    if (sequence_waiters_ > 0) batch_done_.notify_all();
    if (checkpoint_file_ != nullptr && (end.rotated || CountDue())) {
      checkpoint_wake_.notify_one();
    }
  }
  if (!pending.result.ok()) return pending.result;
  return pending.first_sequence;
}

absl::Status AuditLog::Rotate(End* end) {
  LogFile file{absl::StrCat(dir_, "/", RotatedLogName(end->sequence + 1)),
               end->sequence + 1};
  int fd = OpenLogFile(file.path, O_CREAT | O_EXCL);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", file.path, ": ", ErrnoText()));
  }
  std::string header =
      FormatHeaderLine({end->sequence, end->hash}, absl::Now(), hmac_key_);
  header.push_back('\n');
  absl::Status status = WriteAll(fd, header);
  if (status.ok() && ::fdatasync(fd) != 0) {
    status = absl::UnavailableError(absl::StrCat("fdatasync: ", ErrnoText()));
  }
  if (status.ok()) status = SyncDirectory(dir_);
  if (!status.ok()) {
    ::close(fd);
    ::unlink(file.path.c_str());  // It never held a record.
    (void)SyncDirectory(dir_);
    return absl::UnavailableError(
        absl::StrCat("cannot rotate to ", file.path, ": ", status.message()));
  }
  sync_count_.fetch_add(1);
  ::close(end->fd);
  end->fd = fd;
  end->size = header.size();
  end->rotated = true;
  end->file = std::move(file);
  LogInfo("audit_log_rotated",
          {{"path", end->file.path},
           {"after_sequence", absl::StrCat(end->sequence)}});
  return absl::OkStatus();
}

absl::Status AuditLog::WriteBatch(const std::vector<Pending*>& batch,
                                  End* end) {
  std::string buffer;
  uint64_t sequence = end->sequence;
  std::string hash = end->hash;
  const absl::Time now = absl::Now();
  for (Pending* pending : batch) {
    pending->first_sequence = sequence + 1;
    for (const std::string& prepared : pending->prepared) {
      std::string line =
          FormatPreparedLine(prepared, ++sequence, now, hash, hmac_key_);
      hash = LineHash(line);
      buffer.append(line);
      buffer.push_back('\n');
    }
  }
  absl::Status status;
  // Rotate only a file that holds a record (not just its header).
  const bool has_record = end->sequence >= end->file_first;
  if (options_.max_file_bytes > 0 && has_record &&
      end->size + buffer.size() > options_.max_file_bytes) {
    status = Rotate(end);
  }
  if (status.ok()) status = WriteAll(end->fd, buffer);
  if (status.ok()) {
    const auto sync_start = std::chrono::steady_clock::now();
    if (::fdatasync(end->fd) == 0) {
      end->sync_time = std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::steady_clock::now() - sync_start);
      sync_count_.fetch_add(1);
      end->sequence = sequence;
      end->hash = std::move(hash);
      end->size += buffer.size();
      return absl::OkStatus();
    }
    status = absl::UnavailableError(absl::StrCat("fdatasync: ", ErrnoText()));
  }
  status = absl::UnavailableError(
      absl::StrCat("audit log write failed: ", status.message()));
  LogError("audit_log_write_failed",
           {{"dir", dir_},
            {"error", std::string(status.message())},
            {"records", absl::StrCat(sequence - end->sequence)}});
  // Nothing unacknowledged may stay in the log looking like a record.
  if (::ftruncate(end->fd, static_cast<off_t>(end->size)) != 0 ||
      ::fdatasync(end->fd) != 0) {
    LogError("audit_log_truncate_failed",
             {{"dir", dir_}, {"error", ErrnoText()}});
    end->broken = true;
  }
  return status;
}

void AuditLog::CheckpointLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  auto deadline = std::chrono::steady_clock::now() +
                  absl::ToChronoNanoseconds(options_.checkpoint_interval);
  while (true) {
    checkpoint_wake_.wait_until(lock, deadline, [&] {
      return stopping_ || !rotation_checkpoints_.empty() || CountDue();
    });
    std::vector<std::pair<uint64_t, std::string>> due;
    due.swap(rotation_checkpoints_);
    const bool timed_out = std::chrono::steady_clock::now() >= deadline;
    if (last_sequence_ > checkpointed_ &&
        (stopping_ || timed_out || CountDue())) {
      due.emplace_back(last_sequence_, last_hash_);
    }
    const bool stop = stopping_;
    lock.unlock();
    uint64_t written = 0;
    for (const auto& [sequence, hash] : due) {
      if (sequence == 0 || sequence <= checkpoint_file_->last_sequence()) {
        continue;
      }
      absl::Status status = checkpoint_file_->Append(sequence, hash);
      if (!status.ok()) {
        LogError("checkpoint_failed",
                 {{"error", std::string(status.message())}});
        break;  // Retried at the next interval.
      }
      written = sequence;
      if (options_.on_checkpoint) {
        options_.on_checkpoint(checkpoint_file_->last().checkpoint);
      }
    }
    lock.lock();
    if (written > checkpointed_) {
      checkpointed_ = written;
      checkpoint_line_ = checkpoint_file_->last().line;
    }
    if (timed_out || written > 0) {
      deadline = std::chrono::steady_clock::now() +
                 absl::ToChronoNanoseconds(options_.checkpoint_interval);
    }
    if (stop) return;
  }
}

bool AuditLog::CountDue() const {
  return options_.checkpoint_every_records > 0 &&
         last_sequence_ - checkpointed_ >= options_.checkpoint_every_records;
}

AuditLog::Snapshot AuditLog::TakeSnapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Snapshot{files_, size_, last_sequence_};
}

absl::StatusOr<v1::QueryResponse> AuditLog::Query(
    const v1::QueryRequest& request) const {
  const size_t limit =
      request.limit() == 0
          ? kDefaultAuditQueryLimit
          : std::min<uint32_t>(request.limit(), kMaxAuditQueryLimit);
  const Snapshot snapshot = TakeSnapshot();
  v1::QueryResponse response;
  uint64_t unparseable = 0;
  bool full = false;
  for (size_t i = 0; i < snapshot.files.size() && !full; ++i) {
    const bool last = i + 1 == snapshot.files.size();
    if (!last &&
        snapshot.files[i + 1].first_sequence <= request.after_sequence() + 1) {
      continue;  // Every record of this file is before the page.
    }
    int fd = ::open(snapshot.files[i].path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return absl::UnavailableError(absl::StrCat(
          "cannot open ", snapshot.files[i].path, ": ", ErrnoText()));
    }
    RangeLineReader reader(fd, 0, last ? snapshot.size : FileSize(fd),
                      kMaxAuditLineBytes);
    absl::string_view line;
    while (reader.Next(&line)) {
      if (IsHeaderLine(line)) continue;
      std::optional<uint64_t> sequence = PeekSequence(line);
      if (sequence.has_value() && *sequence <= request.after_sequence()) {
        continue;
      }
      absl::StatusOr<v1::AuditRecord> record = ParseRecordLine(line);
      if (!record.ok()) {
        ++unparseable;
        continue;
      }
      if (record->sequence() <= request.after_sequence() ||
          !Matches(request, *record)) {
        continue;
      }
      if (static_cast<size_t>(response.records_size()) == limit) {
        response.set_next_after_sequence(
            response.records(response.records_size() - 1).sequence());
        full = true;
        break;
      }
      *response.add_records() = std::move(*record);
    }
    absl::Status status = reader.status();
    ::close(fd);
    if (!status.ok()) return status;
  }
  if (unparseable > 0) {
    LogWarning("audit_query_skipped_unparseable",
               {{"dir", dir_}, {"lines", absl::StrCat(unparseable)}});
  }
  return response;
}

absl::StatusOr<v1::VerifyResponse> AuditLog::Verify(
    uint64_t first_sequence, uint64_t last_sequence,
    const std::vector<ExpectedHead>& expect) const {
  VerifyOptions options;
  options.expect = expect;
  options.first_sequence = first_sequence;
  options.last_sequence = last_sequence;
  options.acknowledged = this->last_sequence();
  CheckpointList checkpoints;
  if (options_.checkpoint_key != nullptr) {
    absl::StatusOr<CheckpointList> read =
        ReadCheckpoints(dir_ + "/checkpoints.jsonl", *options_.checkpoint_key);
    if (read.ok()) {
      checkpoints = std::move(*read);
    } else if (read.status().code() != absl::StatusCode::kNotFound) {
      return read.status();
    } else {
      checkpoints.problem = "bad checkpoint";  // Written at open: removed.
    }
    options.checkpoints = &checkpoints;
  }
  // The files on disk, not the ones the log remembers: a removed file
  // is a finding, not an error.
  LK_ASSIGN_OR_RETURN(std::vector<LogFile> files, ListLogFiles(dir_));
  return VerifyChainFiles(files, hmac_key_, options);
}

AuditLog::TailCursor AuditLog::TailFrom(uint64_t from_sequence) const {
  std::lock_guard<std::mutex> lock(mu_);
  TailCursor cursor;
  if (from_sequence == 0) {
    cursor.file = files_.back().first_sequence;
    cursor.offset = size_;
    cursor.next_sequence = last_sequence_ + 1;
    cursor.seen_through = last_sequence_;
  } else {
    cursor.file = files_.front().first_sequence;
    for (const LogFile& file : files_) {
      if (file.first_sequence <= from_sequence)
        cursor.file = file.first_sequence;
    }
    cursor.next_sequence = from_sequence;
  }
  return cursor;
}

absl::StatusOr<std::vector<v1::AuditRecord>> AuditLog::ReadNext(
    TailCursor* cursor, size_t max) const {
  const Snapshot snapshot = TakeSnapshot();
  // The cursor's file, or the next one if it is gone.
  size_t index = snapshot.files.size() - 1;
  for (size_t i = 0; i < snapshot.files.size(); ++i) {
    if (snapshot.files[i].first_sequence >= cursor->file) {
      if (snapshot.files[i].first_sequence != cursor->file) cursor->offset = 0;
      index = i;
      break;
    }
  }
  std::vector<v1::AuditRecord> records;
  while (true) {
    const LogFile& file = snapshot.files[index];
    const bool last = index + 1 == snapshot.files.size();
    cursor->file = file.first_sequence;
    int fd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot open ", file.path, ": ", ErrnoText()));
    }
    RangeLineReader reader(fd, cursor->offset, last ? snapshot.size : FileSize(fd),
                      kMaxAuditLineBytes);
    absl::string_view line;
    while (records.size() < max && reader.Next(&line)) {
      cursor->offset = reader.position();
      if (IsHeaderLine(line)) continue;
      std::optional<uint64_t> sequence = PeekSequence(line);
      if (sequence.has_value() && *sequence < cursor->next_sequence) continue;
      absl::StatusOr<v1::AuditRecord> record = ParseRecordLine(line);
      if (!record.ok() || record->sequence() < cursor->next_sequence) continue;
      cursor->next_sequence = record->sequence() + 1;
      records.push_back(std::move(*record));
    }
    absl::Status status = reader.status();
    ::close(fd);
    if (!status.ok()) return status;
    if (records.size() >= max) break;
    if (last) {
      cursor->seen_through = snapshot.last_sequence;
      break;
    }
    ++index;  // This file is complete: go on with the next one.
    cursor->offset = 0;
  }
  return records;
}

bool AuditLog::WaitForSequence(uint64_t sequence,
                               absl::Duration timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  ++sequence_waiters_;
  bool reached =
      batch_done_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                           [&] { return last_sequence_ >= sequence; });
  --sequence_waiters_;
  return reached;
}

uint64_t AuditLog::last_sequence() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_sequence_;
}

std::vector<LogFile> AuditLog::files() const {
  std::lock_guard<std::mutex> lock(mu_);
  return files_;
}

AuditLog::DurableEnd AuditLog::durable_end() const {
  const Snapshot snapshot = TakeSnapshot();
  return DurableEnd{snapshot.files, snapshot.size, snapshot.last_sequence};
}

uint64_t AuditLog::checkpoint_sequence() const {
  std::lock_guard<std::mutex> lock(mu_);
  return checkpointed_;
}

AuditLog::Head AuditLog::head() const {
  std::lock_guard<std::mutex> lock(mu_);
  Head head;
  head.sequence = last_sequence_;
  if (last_sequence_ > 0) head.hash = last_hash_;
  head.checkpoint_line = checkpoint_line_;
  head.checkpoint_sequence = checkpointed_;
  return head;
}

}  // namespace latchkey::audit_sink
