// The sink's HMAC key: 32 random bytes, stored hex-encoded in
// `<state_dir>/hmac.key` (mode 0600), created on first start.
#ifndef LATCHKEY_AUDIT_SINK_HMAC_KEY_H_
#define LATCHKEY_AUDIT_SINK_HMAC_KEY_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace latchkey::audit_sink {

inline constexpr size_t kHmacKeyBytes = 32;

// LoadHmacKey reads an existing key file. FAILED_PRECONDITION when it is
// not a regular file, grants any access to group or others, or does not
// hold exactly 32 hex-encoded bytes; NOT_FOUND when it does not exist.
absl::StatusOr<std::string> LoadHmacKey(const std::string& path);

// LoadOrCreateHmacKey loads `dir`/hmac.key, or creates it (0600, written
// to a temporary file, synced, then linked into place) when it does not
// exist. It refuses to create a key when `dir`/audit.log already holds
// records, since they could never be verified with a new key.
absl::StatusOr<std::string> LoadOrCreateHmacKey(const std::string& dir);

}  // namespace latchkey::audit_sink

#endif  // LATCHKEY_AUDIT_SINK_HMAC_KEY_H_
