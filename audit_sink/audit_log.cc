#include "audit_sink/audit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "audit_sink/audit_record.h"
#include "audit_sink/chain_verifier.h"
#include "audit_sink/file_util.h"
#include "audit_sink/line_reader.h"
#include "audit_sink/log_recovery.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/secure_buffer.h"
#include "common/status_macros.h"

namespace latchkey {
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
  const v1::AuditEvent* event = nullptr;
  uint64_t sequence = 0;
  absl::Status result;
  bool done = false;
};

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& dir,
                                                         std::string hmac_key) {
  if (hmac_key.empty()) {
    return absl::InvalidArgumentError("the audit log needs an HMAC key");
  }
  std::string path = dir + "/audit.log";
  int fd = ::open(path.c_str(),
                  O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open ", path, ": ", ErrnoText()));
  }
  struct stat st;
  absl::Status status;
  if (::fstat(fd, &st) != 0) {
    status = absl::UnavailableError(
        absl::StrCat("cannot stat ", path, ": ", ErrnoText()));
  } else if (!S_ISREG(st.st_mode)) {
    status = absl::FailedPreconditionError(
        absl::StrCat(path, " is not a regular file"));
  } else if ((st.st_mode & 0077) != 0) {
    status = absl::FailedPreconditionError(absl::StrFormat(
        "%s has mode %04o: the audit log must be accessible by its owner "
        "only; run chmod 600 %s",
        path, st.st_mode & 07777, path));
  }
  absl::StatusOr<RecoveredChain> chain =
      status.ok() ? RecoverChain(fd, dir, path, hmac_key) : status;
  if (chain.ok()) status = SyncDirectory(dir);  // The file may be new.
  if (!chain.ok() || !status.ok()) {
    ::close(fd);
    return chain.ok() ? status : chain.status();
  }
  LogInfo("audit_log_opened",
          {{"path", path},
           {"last_sequence", absl::StrCat(chain->last_sequence)},
           {"bytes", absl::StrCat(chain->size)}});
  return std::unique_ptr<AuditLog>(
      new AuditLog(std::move(path), fd, std::move(hmac_key),
                   chain->last_sequence, chain->last_hash, chain->size));
}

AuditLog::AuditLog(std::string path, int fd, std::string hmac_key,
                   uint64_t last_sequence, std::string last_hash, uint64_t size)
    : path_(std::move(path)),
      fd_(fd),
      hmac_key_(std::move(hmac_key)),
      last_sequence_(last_sequence),
      last_hash_(std::move(last_hash)),
      size_(size) {}

AuditLog::~AuditLog() {
  ::close(fd_);
  CleanseString(&hmac_key_);
}

absl::StatusOr<uint64_t> AuditLog::Append(const v1::AuditEvent& event) {
  LK_RETURN_IF_ERROR(ValidateEvent(event));
  Pending pending;
  pending.event = &event;
  std::unique_lock<std::mutex> lock(mu_);
  if (!failed_.ok()) return failed_;
  queue_.push_back(&pending);
  while (!pending.done) {
    if (writing_) {
      batch_done_.wait(lock);
      continue;
    }
    // Lead: write everything queued so far (our own record included) in
    // one batch. Only the leader touches the file, so the chain state can
    // be copied out and written back without holding the lock.
    writing_ = true;
    std::vector<Pending*> batch;
    batch.swap(queue_);
    uint64_t sequence = last_sequence_;
    std::string hash = last_hash_;
    const uint64_t durable_size = size_;
    absl::Status status = failed_;
    uint64_t bytes = 0;
    lock.unlock();
    if (status.ok()) {
      status = WriteBatch(batch, durable_size, &sequence, &hash, &bytes);
    }
    lock.lock();
    if (status.ok()) {
      last_sequence_ = sequence;
      last_hash_ = std::move(hash);
      size_ += bytes;
    } else if (failed_.ok()) {
      failed_ = status;  // Fail closed until reopened.
    }
    for (Pending* done : batch) {
      done->result = status;
      done->done = true;
    }
    writing_ = false;
    batch_done_.notify_all();
  }
  if (!pending.result.ok()) return pending.result;
  return pending.sequence;
}

absl::Status AuditLog::WriteBatch(const std::vector<Pending*>& batch,
                                  uint64_t durable_size, uint64_t* sequence,
                                  std::string* hash, uint64_t* bytes) {
  std::string buffer;
  for (Pending* pending : batch) {
    pending->sequence = ++*sequence;
    std::string line = FormatRecordLine(*pending->event, pending->sequence,
                                        absl::Now(), *hash, hmac_key_);
    *hash = LineHash(line);
    buffer.append(line);
    buffer.push_back('\n');
  }
  absl::Status status = WriteAll(fd_, buffer);
  if (status.ok()) {
    if (::fdatasync(fd_) == 0) {
      sync_count_.fetch_add(1);
      *bytes = buffer.size();
      return absl::OkStatus();
    }
    status = absl::UnavailableError(absl::StrCat("fdatasync: ", ErrnoText()));
  }
  status = absl::UnavailableError(
      absl::StrCat("audit log write failed: ", status.message()));
  LogError("audit_log_write_failed", {{"path", path_},
                                      {"error", std::string(status.message())},
                                      {"records", absl::StrCat(batch.size())}});
  // Nothing unacknowledged may stay in the log looking like a record.
  if (::ftruncate(fd_, static_cast<off_t>(durable_size)) != 0 ||
      ::fdatasync(fd_) != 0) {
    LogError("audit_log_truncate_failed",
             {{"path", path_}, {"error", ErrnoText()}});
  }
  return status;
}

absl::StatusOr<v1::QueryResponse> AuditLog::Query(
    const v1::QueryRequest& request) const {
  const size_t limit =
      request.limit() == 0
          ? kDefaultAuditQueryLimit
          : std::min<uint32_t>(request.limit(), kMaxAuditQueryLimit);
  uint64_t end;
  {
    std::lock_guard<std::mutex> lock(mu_);
    end = size_;
  }
  v1::QueryResponse response;
  uint64_t unparseable = 0;
  LineReader reader(fd_, 0, end, kMaxAuditLineBytes);
  absl::string_view line;
  while (reader.Next(&line)) {
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
      break;
    }
    *response.add_records() = std::move(*record);
  }
  if (!reader.status().ok()) return reader.status();
  if (unparseable > 0) {
    LogWarning("audit_query_skipped_unparseable",
               {{"path", path_}, {"lines", absl::StrCat(unparseable)}});
  }
  return response;
}

absl::StatusOr<v1::VerifyResponse> AuditLog::Verify(
    uint64_t first_sequence, uint64_t last_sequence) const {
  VerifyOptions options;
  options.first_sequence = first_sequence;
  options.last_sequence = last_sequence;
  options.acknowledged = this->last_sequence();
  return VerifyChainFile(path_, hmac_key_, options);
}

AuditLog::TailCursor AuditLog::TailFrom(uint64_t from_sequence) const {
  std::lock_guard<std::mutex> lock(mu_);
  TailCursor cursor;
  if (from_sequence == 0) {
    cursor.offset = size_;
    cursor.next_sequence = last_sequence_ + 1;
    cursor.seen_through = last_sequence_;
  } else {
    cursor.next_sequence = from_sequence;
  }
  return cursor;
}

absl::StatusOr<std::vector<v1::AuditRecord>> AuditLog::ReadNext(
    TailCursor* cursor, size_t max) const {
  uint64_t end, through;
  {
    std::lock_guard<std::mutex> lock(mu_);
    end = size_;
    through = last_sequence_;
  }
  std::vector<v1::AuditRecord> records;
  LineReader reader(fd_, cursor->offset, end, kMaxAuditLineBytes);
  absl::string_view line;
  while (records.size() < max && reader.Next(&line)) {
    cursor->offset = reader.position();
    std::optional<uint64_t> sequence = PeekSequence(line);
    if (sequence.has_value() && *sequence < cursor->next_sequence) continue;
    absl::StatusOr<v1::AuditRecord> record = ParseRecordLine(line);
    if (!record.ok() || record->sequence() < cursor->next_sequence) continue;
    cursor->next_sequence = record->sequence() + 1;
    records.push_back(std::move(*record));
  }
  if (!reader.status().ok()) return reader.status();
  if (records.size() < max) cursor->seen_through = through;
  return records;
}

bool AuditLog::WaitForSequence(uint64_t sequence,
                               absl::Duration timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return batch_done_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                              [&] { return last_sequence_ >= sequence; });
}

uint64_t AuditLog::last_sequence() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_sequence_;
}

}  // namespace latchkey
