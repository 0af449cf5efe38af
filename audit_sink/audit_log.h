// AuditLog is the sink's append-only, hash-chained, fsync'd log file
// (`<dir>/audit.log`, JSON Lines, see audit_record.h for the format).
//
// Append uses group commit: concurrent callers queue their events, one of
// them (the leader) formats every queued record in queue order, writes
// them with one write() and makes them durable with one fdatasync(), then
// wakes every waiter. A caller learns its sequence number only once its
// line is durable. A failed write or sync fails the whole batch and every
// later Append with UNAVAILABLE until the log is reopened: the log never
// acknowledges what is not on disk.
#ifndef LATCHKEY_AUDIT_SINK_AUDIT_LOG_H_
#define LATCHKEY_AUDIT_SINK_AUDIT_LOG_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/audit.pb.h"

namespace latchkey {

class AuditLog {
 public:
  // Open opens (or creates, mode 0600) `dir`/audit.log and resumes its
  // chain from the last complete line, whose HMAC must match `hmac_key`.
  // A partial last line (a crash mid-write) is moved to
  // `dir`/audit.log.partial-<unix time> and cut from the log.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(const std::string& dir,
                                                        std::string hmac_key);

  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Append records `event` and returns its sequence number once the line
  // is durable. INVALID_ARGUMENT for an event that cannot be recorded,
  // UNAVAILABLE when the log cannot (or can no longer) be written.
  absl::StatusOr<uint64_t> Append(const v1::AuditEvent& event);

  // Query returns durable records matching the request's filters, oldest
  // first: start_time inclusive, end_time exclusive, agent, capability,
  // decision (unset fields do not filter), sequence > after_sequence, at
  // most `limit` (0 means kDefaultAuditQueryLimit, capped at
  // kMaxAuditQueryLimit). next_after_sequence is set when another record
  // matches after the page.
  absl::StatusOr<v1::QueryResponse> Query(
      const v1::QueryRequest& request) const;

  // Verify re-reads the file and checks records first..last (0: the ends)
  // against the key, the chain and the highest sequence acknowledged.
  absl::StatusOr<v1::VerifyResponse> Verify(uint64_t first_sequence,
                                            uint64_t last_sequence) const;

  // TailCursor follows the log for a Tail stream.
  struct TailCursor {
    uint64_t offset = 0;         // Where to read next.
    uint64_t next_sequence = 1;  // Skip records before this one.
    uint64_t seen_through = 0;   // Durable sequence read up to.
  };
  // TailFrom starts at `from_sequence`; 0 means only records appended
  // from now on.
  TailCursor TailFrom(uint64_t from_sequence) const;
  // ReadNext returns up to `max` durable records after the cursor and
  // advances it. Fewer than `max` means it reached the durable end.
  absl::StatusOr<std::vector<v1::AuditRecord>> ReadNext(TailCursor* cursor,
                                                        size_t max) const;
  // WaitForSequence blocks until record `sequence` is durable (true) or
  // `timeout` passes (false).
  bool WaitForSequence(uint64_t sequence, absl::Duration timeout) const;

  // last_sequence is the highest durable (acknowledged or resumed) record.
  uint64_t last_sequence() const;
  // sync_count counts fdatasync() calls made by Append (group commit
  // makes it smaller than the number of appends under concurrency).
  uint64_t sync_count() const { return sync_count_.load(); }
  const std::string& path() const { return path_; }

 private:
  struct Pending;

  AuditLog(std::string path, int fd, std::string hmac_key,
           uint64_t last_sequence, std::string last_hash, uint64_t size);
  // WriteBatch formats, writes and syncs `batch` after record
  // `*sequence` with hash `*hash`, advancing both and setting `*bytes`.
  // On failure it cuts the file back to `durable_size`. Leader only,
  // called without the lock.
  absl::Status WriteBatch(const std::vector<Pending*>& batch,
                          uint64_t durable_size, uint64_t* sequence,
                          std::string* hash, uint64_t* bytes);

  const std::string path_;
  const int fd_;
  std::string hmac_key_;  // Zeroized on destruction.
  std::atomic<uint64_t> sync_count_{0};

  // std::mutex rather than absl::Mutex: Debian's Abseil is built without
  // ThreadSanitizer annotations, so TSan could not see absl::Mutex.
  mutable std::mutex mu_;
  // batch_done_ is notified when a leader finishes a batch.
  mutable std::condition_variable batch_done_;
  // Guarded by mu_: the queue, the leader flag, the sticky failure and
  // the durable end of the chain.
  std::vector<Pending*> queue_;
  bool writing_ = false;
  absl::Status failed_;
  uint64_t last_sequence_;
  std::string last_hash_;
  uint64_t size_;
};

}  // namespace latchkey

#endif  // LATCHKEY_AUDIT_SINK_AUDIT_LOG_H_
