// VerifyChainFile checks an audit log file: every record's HMAC, every
// prev-hash link and the continuity of sequence numbers. It only reads the
// file, so the offline verifier and the live sink share it.
#ifndef LATCHKEY_AUDIT_SINK_CHAIN_VERIFIER_H_
#define LATCHKEY_AUDIT_SINK_CHAIN_VERIFIER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/audit.pb.h"

namespace latchkey {

struct VerifyOptions {
  // first_sequence and last_sequence bound the check; 0 means the ends.
  uint64_t first_sequence = 0;
  uint64_t last_sequence = 0;
  // acknowledged is the highest sequence the live sink has acknowledged.
  // With it, records after it are not read (they may be half-written) and
  // a file that ends before it is "truncated". Without it (offline), the
  // whole file is read and only a file ending mid-line is "truncated".
  std::optional<uint64_t> acknowledged;
};

// VerifyChainFile returns the verdict; an error only when the file cannot
// be read. A failed verdict names the first bad sequence (the sequence
// expected where the problem was found) and one problem word:
//   "edited"      the record's HMAC or its prev link does not match,
//   "deleted"     a sequence number is missing,
//   "reordered"   sequence numbers go backwards or appear out of order,
//   "truncated"   the file ends before the acknowledged record, or mid-line,
//   "unparseable" the line is not a record.
absl::StatusOr<v1::VerifyResponse> VerifyChainFile(
    const std::string& path, absl::string_view hmac_key,
    const VerifyOptions& options);

}  // namespace latchkey

#endif  // LATCHKEY_AUDIT_SINK_CHAIN_VERIFIER_H_
