#include "audit_sink/file_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace latchkey {

std::string ErrnoText() { return std::strerror(errno); }

absl::Status WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("write: ", ErrnoText()));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadAt(int fd, uint64_t offset, size_t size) {
  std::string out(size, '\0');
  size_t done = 0;
  while (done < size) {
    ssize_t n =
        ::pread(fd, &out[done], size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::UnavailableError(absl::StrCat("read: ", ErrnoText()));
    }
    if (n == 0) return absl::UnavailableError("read: unexpected end of file");
    done += static_cast<size_t>(n);
  }
  return out;
}

absl::Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot open directory ", dir, ": ", ErrnoText()));
  }
  int result = ::fsync(fd);
  std::string error = result == 0 ? "" : ErrnoText();
  ::close(fd);
  if (result != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot sync directory ", dir, ": ", error));
  }
  return absl::OkStatus();
}

}  // namespace latchkey
