// An expected head: a record the audit log must still hold, with the hash
// of its line, as known from outside the sink's host (a GetCheckpoint
// answer or a checkpoint line from the journal, kept elsewhere). Written
// `SEQ:HEAD` on command lines (`--expect=SEQ:HEAD`).
#ifndef LATCHKEY_AUDIT_SINK_EXPECTED_HEAD_H_
#define LATCHKEY_AUDIT_SINK_EXPECTED_HEAD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace latchkey::audit_sink {

struct ExpectedHead {
  uint64_t sequence = 0;  // At least 1.
  std::string head_hash;  // 64 lowercase hex digits (SHA-256).
};

// ParseExpectedHead parses `SEQ:HEAD` (HEAD in either case);
// INVALID_ARGUMENT otherwise.
absl::StatusOr<ExpectedHead> ParseExpectedHead(absl::string_view text);
// ParseExpectedHeads parses each element of `texts`; every element may
// itself be a comma list.
absl::StatusOr<std::vector<ExpectedHead>> ParseExpectedHeads(
    const std::vector<std::string>& texts);
// FlagValues returns every value given to --`name` on a command line
// (`--name=V`, `-name=V`, `--name V`, up to `--`), in order. Abseil keeps
// only the last of a repeated flag; this lets --expect be repeated.
std::vector<std::string> FlagValues(int argc, char** argv,
                                    absl::string_view name);
// FormatExpectedHead returns `SEQ:HEAD`.
std::string FormatExpectedHead(uint64_t sequence, absl::string_view head_hash);

}  // namespace latchkey::audit_sink

#endif  // LATCHKEY_AUDIT_SINK_EXPECTED_HEAD_H_
