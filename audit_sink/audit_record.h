// The audit log's line format. Each record is one line of compact JSON with
// its keys in a fixed order:
//
//   seq, ts, source, agent, session, capability, method, path, decision,
//   reason_code, reason, rule, upstream_status, bytes_in, bytes_out,
//   latency_us, request_id, peer_uid, agent_reason, [approval_id,
//   operator_uid,] prev, hmac
//
// approval_id appears only when set; operator_uid only in events of source
// "operator" (an operator approving or denying an approval).
//
// `prev` is the hex SHA-256 of the previous line's bytes (without its
// newline; 64 zeros for record 1) and `hmac` is the hex HMAC-SHA256, under
// the sink's key, of the line serialized without the `hmac` key, i.e. of
// the line's own bytes up to `,"hmac":` followed by `}`. Because `hmac` is
// always the last key, verification works on the raw bytes and does not
// depend on re-serializing the JSON identically.
//
// A file that continues the chain after a rotation starts with a header
// line instead (not a record, not part of the hash chain):
//
//   {"header":"latchkey-audit/1","prev_seq":N,"prev":"<hash of record N>",
//    "ts":"...","hmac":"..."}
//
// with its HMAC computed the same way as a record's.
#ifndef LATCHKEY_AUDIT_SINK_AUDIT_RECORD_H_
#define LATCHKEY_AUDIT_SINK_AUDIT_RECORD_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/audit.pb.h"

namespace latchkey::audit_sink {

// kGenesisHash is the `prev` of record 1.
inline constexpr absl::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// ValidateEvent returns INVALID_ARGUMENT unless `event` can be recorded:
// decision allow or deny, a known reason code, string fields valid UTF-8
// of at most kMaxAuditFieldBytes, numbers not negative, a source.
absl::Status ValidateEvent(const v1::AuditEvent& event);

// FormatRecordLine returns the line (without newline) recording `event`
// as record `sequence`. `event` must have passed ValidateEvent.
std::string FormatRecordLine(const v1::AuditEvent& event, uint64_t sequence,
                             absl::Time time, absl::string_view prev_hash,
                             absl::string_view hmac_key);

// PrepareEventJson serializes the part of a record line that depends only
// on the event (from `"source"` to `"agent_reason"`, without braces), so
// that callers can do the expensive JSON work in parallel before the
// group-commit leader numbers and chains the record.
std::string PrepareEventJson(const v1::AuditEvent& event);

// FormatPreparedLine is FormatRecordLine for an event already prepared
// with PrepareEventJson; the bytes are identical.
std::string FormatPreparedLine(absl::string_view prepared, uint64_t sequence,
                               absl::Time time, absl::string_view prev_hash,
                               absl::string_view hmac_key);

// kHeaderMagic is the value of a file header's "header" key.
inline constexpr absl::string_view kHeaderMagic = "latchkey-audit/1";

struct FileHeader {
  // The sequence and line hash of the last record of the previous file.
  uint64_t prev_sequence = 0;
  std::string prev_hash;
};

// FormatHeaderLine returns a header line (without newline).
std::string FormatHeaderLine(const FileHeader& header, absl::Time time,
                             absl::string_view hmac_key);

// IsHeaderLine is true when the line starts like a file header.
bool IsHeaderLine(absl::string_view line);

// ParseHeaderLine parses a header (DATA_LOSS when malformed). It does not
// check the HMAC (LineHmacMatches does).
absl::StatusOr<FileHeader> ParseHeaderLine(absl::string_view line);

// LineHash is the hex SHA-256 of a line: the next record's `prev`.
std::string LineHash(absl::string_view line);

// ChainFields are what verification needs from a line.
struct ChainFields {
  uint64_t sequence = 0;
  std::string prev_hash;
};

// ParseChainFields parses a line far enough to check the chain: valid
// JSON object, `seq`, `prev`, and `hmac` as its last key. DATA_LOSS if not.
absl::StatusOr<ChainFields> ParseChainFields(absl::string_view line);

// LineHmacMatches is true when the line's `hmac` is the HMAC under
// `hmac_key` of the line without it (compared in constant time).
bool LineHmacMatches(absl::string_view line, absl::string_view hmac_key);

// ParseRecordLine converts a line into an AuditRecord (DATA_LOSS when it
// is not a well-formed record). It does not check the HMAC.
absl::StatusOr<v1::AuditRecord> ParseRecordLine(absl::string_view line);

// PeekSequence reads `seq` from the start of a line without parsing the
// rest (for skipping); nullopt when the line does not start that way.
std::optional<uint64_t> PeekSequence(absl::string_view line);

}  // namespace latchkey::audit_sink

#endif  // LATCHKEY_AUDIT_SINK_AUDIT_RECORD_H_
