#include "audit_sink/chain_verifier.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "audit_sink/audit_record.h"
#include "audit_sink/line_reader.h"
#include "common/limits.h"

namespace latchkey {
namespace {

v1::VerifyResponse Failed(v1::VerifyResponse response, uint64_t sequence,
                          const char* problem) {
  response.set_ok(false);
  response.set_first_bad_sequence(sequence);
  response.set_problem(problem);
  return response;
}

// FindLater is true when a line with a sequence in [low, high) follows.
bool FindLater(LineReader* reader, uint64_t low, uint64_t high) {
  absl::string_view line;
  while (reader->Next(&line)) {
    std::optional<uint64_t> sequence = PeekSequence(line);
    if (sequence.has_value() && *sequence >= low && *sequence < high) {
      return true;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<v1::VerifyResponse> VerifyChainFile(
    const std::string& path, absl::string_view hmac_key,
    const VerifyOptions& options) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::string message =
        absl::StrCat("cannot open ", path, ": ", std::strerror(errno));
    return errno == ENOENT ? absl::NotFoundError(message)
                           : absl::UnavailableError(message);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    std::string message =
        absl::StrCat("cannot stat ", path, ": ", std::strerror(errno));
    ::close(fd);
    return absl::UnavailableError(message);
  }

  v1::VerifyResponse response;
  response.set_ok(true);
  const uint64_t first = std::max<uint64_t>(1, options.first_sequence);
  // Records first..required must all be present; none after stop_after
  // is read.
  uint64_t required = options.last_sequence;
  if (options.acknowledged.has_value()) {
    required = required == 0 ? *options.acknowledged
                             : std::min(required, *options.acknowledged);
    if (required < first) {
      ::close(fd);
      return response;  // Nothing acknowledged in the range.
    }
  }
  const uint64_t stop_after = required;  // 0: read to the end.

  LineReader reader(fd, 0, static_cast<uint64_t>(st.st_size),
                    kMaxAuditLineBytes);
  uint64_t expected = first;
  // prev_hash is the hash the next record must carry; empty when unknown
  // (the range starts after a record that is not in the file).
  std::string prev_hash = first == 1 ? std::string(kGenesisHash) : "";
  bool in_range = false;
  bool stopped = false;
  absl::string_view line;
  auto fail = [&](const char* problem) {
    ::close(fd);
    return Failed(response, expected, problem);
  };
  while (reader.Next(&line)) {
    if (!in_range) {
      std::optional<uint64_t> sequence = PeekSequence(line);
      if (sequence.has_value() && *sequence < first) {
        prev_hash = LineHash(line);
        continue;
      }
      in_range = true;
    }
    absl::StatusOr<ChainFields> fields = ParseChainFields(line);
    if (!fields.ok()) return fail("unparseable");
    if (!LineHmacMatches(line, hmac_key)) return fail("edited");
    if (fields->sequence < expected) return fail("reordered");
    if (fields->sequence > expected) {
      // `expected` is missing here; further on it was moved, else deleted.
      return fail(FindLater(&reader, expected, fields->sequence) ? "reordered"
                                                                 : "deleted");
    }
    if (!prev_hash.empty() && fields->prev_hash != prev_hash) {
      return fail("edited");
    }
    prev_hash = LineHash(line);
    response.set_records_checked(response.records_checked() + 1);
    ++expected;
    if (stop_after != 0 && fields->sequence >= stop_after) {
      stopped = true;
      break;
    }
  }
  if (!reader.status().ok()) {
    ::close(fd);
    return reader.status();
  }
  if (!stopped && (expected <= required || reader.trailing_bytes() > 0)) {
    return fail("truncated");
  }
  ::close(fd);
  return response;
}

}  // namespace latchkey
