#include "audit_sink/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace latchkey::audit_sink {

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

absl::StatusOr<std::string> ReadKeyFile(const std::string& path,
                                        absl::string_view what,
                                        size_t max_bytes, bool owner_only) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    std::string message = absl::StrCat("cannot open ", path, ": ", ErrnoText());
    return errno == ENOENT ? absl::NotFoundError(message)
                           : absl::FailedPreconditionError(message);
  }
  struct stat st;
  absl::Status status;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    status = absl::FailedPreconditionError(
        absl::StrCat(path, " is not a regular file"));
  } else if (owner_only && (st.st_mode & 0077) != 0) {
    status = absl::FailedPreconditionError(absl::StrFormat(
        "%s has mode %04o: %s must be readable by its owner only; run "
        "chmod 600 %s and consider the key disclosed",
        path, st.st_mode & 07777, what, path));
  } else if (st.st_size > static_cast<off_t>(max_bytes)) {
    status = absl::FailedPreconditionError(
        absl::StrCat(path, " is too large to hold ", what));
  }
  absl::StatusOr<std::string> text =
      status.ok() ? ReadAt(fd, 0, static_cast<size_t>(st.st_size)) : status;
  ::close(fd);
  return text;
}

absl::Status WriteFileAtomically(const std::string& dir,
                                 const std::string& path,
                                 absl::string_view text, mode_t mode,
                                 bool exclusive) {
  std::string temp = path + ".tmp";
  ::unlink(temp.c_str());  // Left over from a crash during creation.
  int fd = ::open(temp.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", temp, ": ", ErrnoText()));
  }
  absl::Status status = WriteAll(fd, text);
  if (status.ok() && ::fchmod(fd, mode) != 0) {
    status = absl::UnavailableError(absl::StrCat("fchmod: ", ErrnoText()));
  }
  if (status.ok() && ::fsync(fd) != 0) {
    status = absl::UnavailableError(absl::StrCat("fsync: ", ErrnoText()));
  }
  ::close(fd);
  if (status.ok()) {
    int result = exclusive ? ::link(temp.c_str(), path.c_str())
                           : ::rename(temp.c_str(), path.c_str());
    if (result != 0 && !(exclusive && errno == EEXIST)) {
      status = absl::UnavailableError(
          absl::StrCat(exclusive ? "link: " : "rename: ", ErrnoText()));
    }
  }
  ::unlink(temp.c_str());
  if (status.ok()) status = SyncDirectory(dir);
  if (!status.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot write ", path, ": ", status.message()));
  }
  return absl::OkStatus();
}

}  // namespace latchkey::audit_sink
