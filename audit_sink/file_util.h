// Small POSIX file helpers for the audit sink's durable writes.
#ifndef LATCHKEY_AUDIT_SINK_FILE_UTIL_H_
#define LATCHKEY_AUDIT_SINK_FILE_UTIL_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace latchkey::audit_sink {

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

// ReadKeyFile reads a small key file (`what` names it in errors), refusing
// anything but a regular file of at most `max_bytes`, and with `owner_only`
// one that group or others may access. NOT_FOUND when it does not exist.
absl::StatusOr<std::string> ReadKeyFile(const std::string& path,
                                        absl::string_view what,
                                        size_t max_bytes, bool owner_only);

// WriteFileAtomically writes `text` to `path` (in `dir`) with `mode`
// through a synced temporary file, then syncs `dir`. With `exclusive` it
// never replaces an existing file (link(), not rename()).
absl::Status WriteFileAtomically(const std::string& dir,
                                 const std::string& path,
                                 absl::string_view text, mode_t mode,
                                 bool exclusive);

}  // namespace latchkey::audit_sink

#endif  // LATCHKEY_AUDIT_SINK_FILE_UTIL_H_
