// AuditLog is the sink's append-only, hash-chained, fsync'd log
// (`<dir>/audit.log` and, after rotations, `<dir>/audit.log.<20-digit
// first sequence>`; JSON Lines, see audit_record.h for the format).
//
// Append uses group commit: concurrent callers serialize their event's
// JSON in parallel and queue it; one of them (the leader) numbers and
// chains every queued record in queue order, writes them with one
// write() and makes them durable with one fdatasync(), then wakes every
// waiter. Before taking the queue, a leader waits (at most half the last
// fdatasync's duration, capped at 1 ms) until as many records are queued
// as the previous batch held and no caller is still serializing: the
// previous batch's writers are usually on their way back, and otherwise
// batches alternate between them and everyone else. With one writer the
// previous batch held one record, so nobody waits. A caller learns its
// sequence number only once its line is durable.
//
// A failed write or sync fails the whole batch with UNAVAILABLE and cuts
// the file back to its durable end; the next Append tries again (for
// example once a full disk has room). Only when that cut fails does the
// log refuse every later Append until it is reopened: the log never
// acknowledges what is not on disk.
//
// Rotation: when a batch would grow the current file beyond
// max_file_bytes (and the file holds at least one record), the leader
// first creates the next file with a header carrying the previous record's
// sequence and hash, syncs it and the directory, then writes the batch
// there. Nothing is ever rewritten or renamed.
//
// Checkpoints: with a checkpoint key, a background thread appends a signed
// checkpoint (sequence and hash of the newest durable record) to
// checkpoints.jsonl every checkpoint_every_records records or
// checkpoint_interval, for the last record of each file on rotation, and
// on close. Each one, once durable, is also handed to on_checkpoint (the
// daemon sends it to syslog, off the state directory).
#ifndef LATCHKEY_AUDIT_SINK_AUDIT_LOG_H_
#define LATCHKEY_AUDIT_SINK_AUDIT_LOG_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "audit_sink/chain_verifier.h"
#include "audit_sink/checkpoint.h"
#include "common/limits.h"
#include "proto/audit.pb.h"

namespace latchkey::audit_sink {

struct AuditLogOptions {
  // A file is rotated before it would grow beyond this (a single batch
  // larger than it still goes into one file). 0: never rotate.
  uint64_t max_file_bytes = kDefaultAuditMaxFileBytes;
  // checkpoint_key (not owned, must outlive the log) signs checkpoints;
  // null: no checkpoints are written or checked.
  const CheckpointKey* checkpoint_key = nullptr;
  uint64_t checkpoint_every_records = kDefaultAuditCheckpointEveryRecords;
  absl::Duration checkpoint_interval =
      absl::Seconds(kDefaultAuditCheckpointIntervalSeconds);
  // on_checkpoint, when set, is called with every checkpoint once it is
  // durable, on the checkpoint thread and without the log's lock (so it
  // never holds up an Append). It must not call back into the log.
  std::function<void(const Checkpoint&)> on_checkpoint;
};

class AuditLog {
 public:
  // Open opens the newest log file of `dir` (creating `dir`/audit.log,
  // mode 0600, for a new log) and resumes the chain from its last complete
  // line, whose HMAC must match `hmac_key`. A partial last line (a crash
  // mid-write) is moved to `dir`/audit.log.partial-<unix time> and cut
  // from the log; a new file left empty by a crash during rotation gets
  // its header.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(
      const std::string& dir, std::string hmac_key,
      const AuditLogOptions& options = AuditLogOptions());

  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Append records `event` and returns its sequence number once the line
  // is durable. INVALID_ARGUMENT for an event that cannot be recorded,
  // UNAVAILABLE when the log cannot (or can no longer) be written.
  absl::StatusOr<uint64_t> Append(const v1::AuditEvent& event);
  // AppendBatch records `events` as consecutive records, all or none, and
  // returns the first one's sequence number once they are durable. One
  // invalid event refuses the whole batch with INVALID_ARGUMENT.
  absl::StatusOr<uint64_t> AppendBatch(
      const std::vector<const v1::AuditEvent*>& events);

  // Query returns durable records matching the request's filters, oldest
  // first: start_time inclusive, end_time exclusive, agent, capability,
  // decision (unset fields do not filter), sequence > after_sequence, at
  // most `limit` (0 means kDefaultAuditQueryLimit, capped at
  // kMaxAuditQueryLimit). next_after_sequence is set when another record
  // matches after the page.
  absl::StatusOr<v1::QueryResponse> Query(
      const v1::QueryRequest& request) const;

  // Verify re-reads the files and checks records first..last (0: the
  // ends) against the key, the chain, the highest sequence acknowledged
  // and (with a checkpoint key) the signed checkpoints, and that the log
  // reaches every `expect`ed head with its hash (VerifyOptions::expect).
  absl::StatusOr<v1::VerifyResponse> Verify(
      uint64_t first_sequence, uint64_t last_sequence,
      const std::vector<ExpectedHead>& expect = {}) const;

  // TailCursor follows the log for a Tail stream.
  struct TailCursor {
    uint64_t file = 1;           // first_sequence of the file being read.
    uint64_t offset = 0;         // Where to read next in it.
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
  // The files of the log, oldest first; the last one is being written.
  std::vector<LogFile> files() const;
  // checkpoint_sequence is the newest durable checkpoint's sequence.
  uint64_t checkpoint_sequence() const;
  // Head is the newest durable record and the newest durable signed
  // checkpoint (empty line when none), for GetCheckpoint.
  struct Head {
    uint64_t sequence = 0;
    std::string hash;
    std::string checkpoint_line;
    uint64_t checkpoint_sequence = 0;
  };
  Head head() const;
  // DurableEnd is where the log ends on disk: its files, oldest first,
  // the durable size of the last one (a record boundary) and the last
  // durable sequence. Files never change before that end, so a backup can
  // copy them without holding the lock.
  struct DurableEnd {
    std::vector<LogFile> files;
    uint64_t last_file_size = 0;
    uint64_t last_sequence = 0;
  };
  DurableEnd durable_end() const;
  const std::string& dir() const { return dir_; }

 private:
  struct Pending;
  // The leader's copy of the log's end while it writes without the lock.
  struct End {
    uint64_t sequence = 0;
    std::string hash;
    int fd = -1;
    uint64_t size = 0;        // Durable size of the file `fd` is open on.
    uint64_t file_first = 1;  // first_sequence of that file.
    bool rotated = false;
    LogFile file;         // Set when rotated.
    bool broken = false;  // The file could not be cut back after a failure.
    std::chrono::nanoseconds sync_time{0};  // Of the batch's fdatasync.
  };

  AuditLog(std::string dir, std::vector<LogFile> files, int fd,
           std::string hmac_key, const AuditLogOptions& options,
           uint64_t last_sequence, std::string last_hash, uint64_t size);
  // WriteBatch formats, writes and syncs `batch` after `end`, rotating
  // first when needed, and advances `end`. On failure it cuts the file
  // back to its durable size. Leader only, called without the lock.
  absl::Status WriteBatch(const std::vector<Pending*>& batch, End* end);
  absl::Status Rotate(End* end);
  void CheckpointLoop();
  // CountDue: enough records for a checkpoint. Requires mu_.
  bool CountDue() const;
  // What readers work from: the files, the durable size of the last one
  // and the newest durable record.
  struct Snapshot {
    std::vector<LogFile> files;
    uint64_t size;
    uint64_t last_sequence;
  };
  Snapshot TakeSnapshot() const;

  const std::string dir_;
  const AuditLogOptions options_;
  int fd_;                // Written by the leader only.
  std::string hmac_key_;  // Zeroized on destruction.
  std::atomic<uint64_t> sync_count_{0};
  std::atomic<int> preparing_{0};  // Appends serializing their event.
  std::unique_ptr<CheckpointFile> checkpoint_file_;
  std::thread checkpoint_thread_;

  // std::mutex rather than absl::Mutex: Debian's Abseil is built without
  // ThreadSanitizer annotations, so TSan could not see absl::Mutex.
  mutable std::mutex mu_;
  // batch_done_ is notified when a leader finishes a batch while a
  // WaitForSequence caller (a Tail stream) is waiting.
  mutable std::condition_variable batch_done_;
  mutable int sequence_waiters_ = 0;
  // Guarded by mu_: the queue, the leader flag, the sticky failure and
  // the durable end of the chain.
  std::vector<Pending*> queue_;
  bool writing_ = false;
  bool leader_waiting_ = false;
  size_t last_batch_size_ = 0;              // Records in the last batch.
  std::chrono::nanoseconds last_sync_{0};   // Its fdatasync's duration.
  mutable std::condition_variable queued_;  // For a waiting leader.
  absl::Status failed_;
  std::vector<LogFile> files_;
  uint64_t last_sequence_;
  std::string last_hash_;
  uint64_t size_;  // Durable size of files_.back().
  // Checkpoint state.
  std::condition_variable checkpoint_wake_;
  std::vector<std::pair<uint64_t, std::string>> rotation_checkpoints_;
  uint64_t checkpointed_ = 0;    // Newest durable checkpoint.
  std::string checkpoint_line_;  // Its line.
  bool stopping_ = false;
};

}  // namespace latchkey::audit_sink

#endif  // LATCHKEY_AUDIT_SINK_AUDIT_LOG_H_
