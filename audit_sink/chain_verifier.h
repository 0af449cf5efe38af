// Verification of the audit log: every record's HMAC (when the key is
// available), every prev-hash link, the continuity of sequence numbers
// across rotated files and their headers, and the signed checkpoints. It
// only reads files, so the offline verifier and the live sink share it.
#ifndef LATCHKEY_AUDIT_SINK_CHAIN_VERIFIER_H_
#define LATCHKEY_AUDIT_SINK_CHAIN_VERIFIER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "audit_sink/checkpoint.h"
#include "audit_sink/expected_head.h"
#include "proto/audit.pb.h"

namespace latchkey::audit_sink {

// The log's files: `audit.log` holds the chain from record 1; a rotation
// continues it in `audit.log.<first sequence, 20 digits>`, which starts
// with a header line. The last file is the one being written.
inline constexpr char kFirstLogName[] = "audit.log";
struct LogFile {
  std::string path;
  uint64_t first_sequence = 1;  // From the name.
};
// RotatedLogName is the file name that starts with record `first_sequence`.
std::string RotatedLogName(uint64_t first_sequence);
// ListLogFiles returns the log files of `dir` in chain order (it ignores
// partial-line files and anything else).
absl::StatusOr<std::vector<LogFile>> ListLogFiles(const std::string& dir);

struct VerifyOptions {
  // first_sequence and last_sequence bound the check; 0 means the ends.
  uint64_t first_sequence = 0;
  uint64_t last_sequence = 0;
  // acknowledged is the highest sequence the live sink has acknowledged.
  // With it, records after it are not read (they may be half-written) and
  // a log that ends before it is "truncated". Without it (offline), every
  // file is read to its end, and the log is "truncated" when it ends
  // mid-line or before the last signed checkpoint.
  std::optional<uint64_t> acknowledged;
  // checkpoints, when set, are signature-checked checkpoints: the line of
  // each checkpointed record must hash to the checkpoint's head.
  const CheckpointList* checkpoints = nullptr;
  // expect: heads known from outside the host. The log must reach each
  // one ("truncated" otherwise, even when the local checkpoints were
  // removed too) and record SEQ's line must hash to HEAD ("edited"
  // otherwise); the response's detail says which. Each must lie within
  // [first_sequence, last_sequence] (INVALID_ARGUMENT otherwise); with
  // `acknowledged`, one after it means the log lost records.
  std::vector<ExpectedHead> expect;
};

// VerifyChainFiles returns the verdict over `files` (chain order). An
// empty `hmac_key` skips the HMAC check (verification with the public
// checkpoint key only). An error only when a file cannot be read (or an
// expected head is outside the range). A
// failed verdict names the first bad sequence and one problem word:
//   "edited"      the record's HMAC, its prev link or its checkpoint does
//                 not match (a replaced file shows here, at its first
//                 record),
//   "deleted"     a sequence number (or a whole file) is missing,
//   "reordered"   sequence numbers go backwards or appear out of order,
//   "truncated"   the log ends before the acknowledged record, a signed
//                 checkpoint or an expected head, or mid-line,
//   "unparseable" the line is not a record,
//   "wrong key"   no HMAC matches although the chain links do: the key is
//                 not the one the log was written with,
//   "bad checkpoint" a checkpoint line is forged or damaged.
// Without the HMAC key, an edit is pinned by the chain links to the exact
// record, except that a damaged record some checkpoint covers is reported
// as the first record after the previous matching checkpoint.
absl::StatusOr<v1::VerifyResponse> VerifyChainFiles(
    const std::vector<LogFile>& files, absl::string_view hmac_key,
    const VerifyOptions& options);

// VerifyChainFile verifies a single file holding the chain from record 1.
absl::StatusOr<v1::VerifyResponse> VerifyChainFile(
    const std::string& path, absl::string_view hmac_key,
    const VerifyOptions& options);

}  // namespace latchkey::audit_sink

#endif  // LATCHKEY_AUDIT_SINK_CHAIN_VERIFIER_H_
