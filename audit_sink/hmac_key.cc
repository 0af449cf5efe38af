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

namespace latchkey::audit_sink {
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
  absl::Status status =
      WriteFileAtomically(dir, path, text, 0600, /*exclusive=*/true);
  CleanseString(&text);
  LK_RETURN_IF_ERROR(status);
  LogInfo("hmac_key_created", {{"path", path}});
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> LoadHmacKey(const std::string& path) {
  LK_ASSIGN_OR_RETURN(std::string text,
                      ReadKeyFile(path, "the audit HMAC key", kMaxKeyFileBytes,
                                  /*owner_only=*/true));
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

}  // namespace latchkey::audit_sink
