#include "audit_sink/hmac_key.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "audit_sink/file_util.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/secure_buffer.h"
#include "common/status_macros.h"

namespace latchkey {
namespace {

// The hex key plus a newline, with room to spare for stray whitespace.
constexpr size_t kMaxKeyFileBytes = 256;

absl::Status CreateKeyFile(const std::string& dir, const std::string& path) {
  struct stat st;
  std::string log_path = dir + "/audit.log";
  if (::stat(log_path.c_str(), &st) == 0 && st.st_size > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is missing but ", log_path,
        " already holds records; restore the key file it was written with "
        "(a new key could never verify them)"));
  }
  LK_ASSIGN_OR_RETURN(std::string key, RandomBytes(kHmacKeyBytes));
  std::string text = HexEncode(key) + "\n";
  CleanseString(&key);
  std::string temp = path + ".tmp";
  ::unlink(temp.c_str());  // Left over from a crash during creation.
  int fd = ::open(temp.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    CleanseString(&text);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", temp, ": ", ErrnoText()));
  }
  absl::Status status = WriteAll(fd, text);
  CleanseString(&text);
  if (status.ok() && ::fsync(fd) != 0) {
    status = absl::UnavailableError(absl::StrCat("fsync: ", ErrnoText()));
  }
  ::close(fd);
  // link() rather than rename(): never replace a key that appeared since.
  if (status.ok() && ::link(temp.c_str(), path.c_str()) != 0 &&
      errno != EEXIST) {
    status = absl::UnavailableError(absl::StrCat("link: ", ErrnoText()));
  }
  ::unlink(temp.c_str());
  if (status.ok()) status = SyncDirectory(dir);
  if (!status.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", path, ": ", status.message()));
  }
  LogInfo("hmac_key_created", {{"path", path}});
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> LoadHmacKey(const std::string& path) {
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
  } else if ((st.st_mode & 0077) != 0) {
    status = absl::FailedPreconditionError(absl::StrFormat(
        "%s has mode %04o: the audit HMAC key must be readable by its owner "
        "only; run chmod 600 %s and consider the key disclosed",
        path, st.st_mode & 07777, path));
  } else if (st.st_size > static_cast<off_t>(kMaxKeyFileBytes)) {
    status = absl::FailedPreconditionError(
        absl::StrCat(path, " is too large to be an HMAC key file"));
  }
  std::string text;
  if (status.ok()) {
    absl::StatusOr<std::string> read =
        ReadAt(fd, 0, static_cast<size_t>(st.st_size));
    if (read.ok()) {
      text = std::move(*read);
    } else {
      status = read.status();
    }
  }
  ::close(fd);
  if (!status.ok()) return status;
  absl::StatusOr<std::string> key = HexDecode(absl::StripAsciiWhitespace(text));
  CleanseString(&text);
  if (!key.ok() || key->size() != kHmacKeyBytes) {
    if (key.ok()) CleanseString(&*key);
    return absl::FailedPreconditionError(
        absl::StrCat(path, " must hold ", kHmacKeyBytes, " bytes as ",
                     2 * kHmacKeyBytes, " hex digits"));
  }
  return key;
}

absl::StatusOr<std::string> LoadOrCreateHmacKey(const std::string& dir) {
  std::string path = dir + "/hmac.key";
  absl::StatusOr<std::string> key = LoadHmacKey(path);
  if (key.status().code() != absl::StatusCode::kNotFound) return key;
  LK_RETURN_IF_ERROR(CreateKeyFile(dir, path));
  return LoadHmacKey(path);
}

}  // namespace latchkey
