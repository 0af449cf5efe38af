// EnsurePrivateDirectory creates a daemon's state directory 0700, or checks
// an existing one: it must be a directory owned by us and not accessible to
// group or others. Refusing to start beats running with readable state.
#ifndef LATCHKEY_COMMON_STATE_DIR_H_
#define LATCHKEY_COMMON_STATE_DIR_H_

#include <string>

#include "absl/status/status.h"

namespace latchkey {

absl::Status EnsurePrivateDirectory(const std::string& path);

// CheckPrivateFile refuses a file that is group/world accessible or owned
// by another user (for example a token file or a database).
absl::Status CheckPrivateFile(const std::string& path);

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_STATE_DIR_H_
