#include "common/state_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace latchkey {
namespace {

absl::Status CheckOwnerAndMode(const std::string& path, const struct stat& st,
                               const char* what) {
  if (st.st_uid != ::geteuid()) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, " ", path, " is owned by uid ", st.st_uid, ", not by uid ",
        ::geteuid(), " which runs this daemon; fix with chown"));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s %s has mode %04o, which lets other users in; fix with "
        "chmod %s %s",
        what, path, st.st_mode & 07777, S_ISDIR(st.st_mode) ? "700" : "600",
        path));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status EnsurePrivateDirectory(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("empty state directory");
  // Create missing parents with mkdir -p semantics, each 0700.
  for (size_t slash = path.find('/', 1); ; slash = path.find('/', slash + 1)) {
    std::string prefix = path.substr(0, slash);
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot create ", prefix, ": ", std::strerror(errno)));
    }
    if (slash == std::string::npos) break;
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not a directory"));
  }
  return CheckOwnerAndMode(path, st, "state directory");
}

absl::Status CheckPrivateFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  return CheckOwnerAndMode(path, st, "file");
}

}  // namespace latchkey
