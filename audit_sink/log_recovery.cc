#include "audit_sink/log_recovery.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "audit_sink/file_util.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace latchkey::audit_sink {
namespace {

constexpr size_t kChunkBytes = 64 * 1024;

// FindLastNewline returns the offset of the last '\n' before `end`, or -1.
absl::StatusOr<int64_t> FindLastNewline(int fd, uint64_t end) {
  while (end > 0) {
    size_t size = static_cast<size_t>(std::min<uint64_t>(kChunkBytes, end));
    LK_ASSIGN_OR_RETURN(std::string chunk, ReadAt(fd, end - size, size));
    const void* hit = ::memrchr(chunk.data(), '\n', chunk.size());
    if (hit != nullptr) {
      return static_cast<int64_t>(end - size) +
             (static_cast<const char*>(hit) - chunk.data());
    }
    end -= size;
  }
  return -1;
}

// OpenPartialFile creates audit.log.partial-<unix time>[-N], 0600.
absl::StatusOr<std::pair<int, std::string>> OpenPartialFile(
    const std::string& dir) {
  std::string base = absl::StrCat(dir, "/audit.log.partial-",
                                  absl::ToUnixSeconds(absl::Now()));
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string name = attempt == 0 ? base : absl::StrCat(base, "-", attempt);
    int fd = ::open(name.c_str(),
                    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) return std::make_pair(fd, name);
    if (errno != EEXIST) {
      return absl::UnavailableError(
          absl::StrCat("cannot create ", name, ": ", ErrnoText()));
    }
  }
  return absl::UnavailableError(
      absl::StrCat("cannot create ", base, ": too many partial files"));
}

// MovePartialAside copies [from, to) of the log to a partial file, syncs
// it, then cuts the log back to `from`.
absl::Status MovePartialAside(int fd, const std::string& dir,
                              const std::string& path, uint64_t from,
                              uint64_t to) {
  LK_ASSIGN_OR_RETURN(auto partial, OpenPartialFile(dir));
  auto [out, name] = partial;
  absl::Status status;
  for (uint64_t offset = from; status.ok() && offset < to;) {
    size_t size =
        static_cast<size_t>(std::min<uint64_t>(kChunkBytes, to - offset));
    absl::StatusOr<std::string> chunk = ReadAt(fd, offset, size);
    status = chunk.ok() ? WriteAll(out, *chunk) : chunk.status();
    offset += size;
  }
  if (status.ok() && ::fsync(out) != 0) {
    status = absl::UnavailableError(absl::StrCat("fsync: ", ErrnoText()));
  }
  ::close(out);
  if (status.ok()) status = SyncDirectory(dir);
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot move the partial last line of ", path, " to ",
                     name, ": ", status.message()));
  }
  if (::ftruncate(fd, static_cast<off_t>(from)) != 0 || ::fsync(fd) != 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot cut the partial last line from ", path, ": ", ErrnoText()));
  }
  LogWarning("partial_line_moved_aside", {{"log", path},
                                          {"moved_to", name},
                                          {"offset", absl::StrCat(from)},
                                          {"bytes", absl::StrCat(to - from)}});
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RecoveredChain> RecoverChain(int fd, const std::string& dir,
                                            const std::string& path,
                                            absl::string_view hmac_key) {
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot stat ", path, ": ", ErrnoText()));
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  LK_ASSIGN_OR_RETURN(int64_t last_newline, FindLastNewline(fd, size));
  RecoveredChain chain;
  chain.size = static_cast<uint64_t>(last_newline + 1);
  if (chain.size < size) {
    LK_RETURN_IF_ERROR(MovePartialAside(fd, dir, path, chain.size, size));
  }
  if (chain.size == 0) return chain;

  LK_ASSIGN_OR_RETURN(int64_t before, FindLastNewline(fd, chain.size - 1));
  const uint64_t start = static_cast<uint64_t>(before + 1);
  const uint64_t length = chain.size - 1 - start;
  if (length > kMaxAuditLineBytes) {
    return absl::DataLossError(absl::StrCat(
        "the last line of ", path, " is ", length,
        " bytes, longer than any record; run latchkey-audit-verify"));
  }
  LK_ASSIGN_OR_RETURN(std::string line,
                      ReadAt(fd, start, static_cast<size_t>(length)));
  if (IsHeaderLine(line)) {
    // A file that holds no record yet: its header carries the chain.
    absl::StatusOr<FileHeader> header = ParseHeaderLine(line);
    if (!header.ok() || !LineHmacMatches(line, hmac_key)) {
      return absl::DataLossError(
          absl::StrCat("the header of ", path,
                       " is damaged or its HMAC does not match hmac.key; run "
                       "latchkey-audit-verify"));
    }
    chain.last_sequence = header->prev_sequence;
    chain.last_hash = header->prev_hash;
    return chain;
  }
  absl::StatusOr<ChainFields> fields = ParseChainFields(line);
  if (!fields.ok()) {
    return absl::DataLossError(absl::StrCat(
        "the last record of ", path, " (byte ", start,
        ") is unparseable: ", fields.status().message(),
        "; run latchkey-audit-verify and move the damaged log aside"));
  }
  if (!LineHmacMatches(line, hmac_key)) {
    return absl::DataLossError(absl::StrCat(
        "the HMAC of the last record of ", path, " (sequence ",
        fields->sequence,
        ") does not match hmac.key: the key is not the one this log was "
        "written with, or the record was edited; run latchkey-audit-verify"));
  }
  chain.last_sequence = fields->sequence;
  chain.last_hash = LineHash(line);
  return chain;
}

}  // namespace latchkey::audit_sink
