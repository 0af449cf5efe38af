// RecoverChain finds where an existing audit log's chain ends when the
// sink starts, after cutting off a partial last line left by a crash.
#ifndef LATCHKEY_AUDIT_SINK_LOG_RECOVERY_H_
#define LATCHKEY_AUDIT_SINK_LOG_RECOVERY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "audit_sink/audit_record.h"

namespace latchkey::audit_sink {

struct RecoveredChain {
  // The last complete record's sequence (0 for an empty log) and the
  // hash of its line, which the next record carries as `prev`.
  uint64_t last_sequence = 0;
  std::string last_hash = std::string(kGenesisHash);
  // size is the length of the log's complete lines.
  uint64_t size = 0;
};

// RecoverChain reads the log open on `fd` (its file is `path` in `dir`).
// Bytes after the last newline are copied to
// `dir`/audit.log.partial-<unix time>, synced, and cut from the log with
// ftruncate + fsync. The last complete line (a record, or the header of
// a file that holds no record yet) must parse and carry a valid HMAC
// under `hmac_key`; DATA_LOSS otherwise.
absl::StatusOr<RecoveredChain> RecoverChain(int fd, const std::string& dir,
                                            const std::string& path,
                                            absl::string_view hmac_key);

}  // namespace latchkey::audit_sink

#endif  // LATCHKEY_AUDIT_SINK_LOG_RECOVERY_H_
