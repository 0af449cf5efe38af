#include "vault/unseal_credential.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace latchkey::vault {
namespace {

constexpr size_t kRootKeyBytes = 32;
constexpr size_t kMaxCredentialBytes = 128;

bool ValidName(absl::string_view name) {
  if (name.empty() || name.size() > 255 || name == "." || name == "..") {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
              c == '@' || c == ':';
    if (!ok) return false;
  }
  return true;
}

int HexValue(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

absl::StatusOr<SecureBuffer> ReadRootKeyCredential(absl::string_view name) {
  if (!ValidName(name)) {
    return absl::InvalidArgumentError(
        "--unseal_credential takes a credential name (as in "
        "LoadCredentialEncrypted=NAME:...), not a path");
  }
  const char* dir = std::getenv("CREDENTIALS_DIRECTORY");
  if (dir == nullptr || dir[0] != '/') {
    return absl::FailedPreconditionError(
        "--unseal_credential needs $CREDENTIALS_DIRECTORY, which systemd sets "
        "for a unit with LoadCredentialEncrypted= or LoadCredential=; start "
        "latchkey-vault from its systemd unit");
  }
  const std::string path = absl::StrCat(dir, "/", name);
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot open credential ", path, ": ", std::strerror(errno)));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("credential ", path, " is not a regular file"));
  }
  if (st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
    ::close(fd);
    return absl::FailedPreconditionError(absl::StrFormat(
        "credential %s must be owned by uid %d with no group/other access "
        "(it is uid %d, mode %04o)",
        path, ::geteuid(), st.st_uid, st.st_mode & 07777));
  }
  // raw: the file's bytes, zeroized when this function returns.
  SecureBuffer raw(kMaxCredentialBytes + 1);
  size_t size = 0;
  while (size < raw.size()) {
    ssize_t n = ::read(fd, raw.data() + size, raw.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    size += static_cast<size_t>(n);
  }
  ::close(fd);
  if (size > kMaxCredentialBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("credential ", path, " is too large for a root key"));
  }
  if (size == kRootKeyBytes) {
    raw.Shrink(size);
    return raw;
  }
  while (size > 0 &&
         (raw.data()[size - 1] == '\n' || raw.data()[size - 1] == '\r' ||
          raw.data()[size - 1] == ' ')) {
    --size;
  }
  if (size != 2 * kRootKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("credential ", path,
                     " must hold the 32-byte root key, raw or as 64 "
                     "hex characters"));
  }
  SecureBuffer key(kRootKeyBytes);
  for (size_t i = 0; i < kRootKeyBytes; ++i) {
    int hi = HexValue(raw.data()[2 * i]);
    int lo = HexValue(raw.data()[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("credential ", path, " is not valid hex"));
    }
    key.data()[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return key;
}

}  // namespace latchkey::vault
