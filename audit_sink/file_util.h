// Small POSIX file helpers for the audit sink's durable writes.
#ifndef LATCHKEY_AUDIT_SINK_FILE_UTIL_H_
#define LATCHKEY_AUDIT_SINK_FILE_UTIL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace latchkey {

// ErrnoText is strerror(errno).
std::string ErrnoText();

// WriteAll writes every byte of `data` to `fd`, retrying short writes and
// EINTR. UNAVAILABLE on failure.
absl::Status WriteAll(int fd, absl::string_view data);

// ReadAt reads exactly `size` bytes at `offset`; UNAVAILABLE on a read
// error or end of file.
absl::StatusOr<std::string> ReadAt(int fd, uint64_t offset, size_t size);

// SyncDirectory fsyncs a directory so that new or removed entries in it
// survive a crash.
absl::Status SyncDirectory(const std::string& dir);

}  // namespace latchkey

#endif  // LATCHKEY_AUDIT_SINK_FILE_UTIL_H_
