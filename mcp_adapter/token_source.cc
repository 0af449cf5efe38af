#include "mcp_adapter/token_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"

namespace latchkey::mcp {
namespace {

std::string Errno() { return std::strerror(errno); }

}  // namespace

absl::Status ValidateToken(absl::string_view token) {
  if (token.empty())
    return absl::InvalidArgumentError("the agent token is empty");
  if (token.size() > kMaxTokenBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the agent token is longer than ", kMaxTokenBytes, " bytes"));
  }
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(
          "the agent token has a character that is not printable ASCII "
          "(space, control or non-ASCII)");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open token file ", path, ": ", Errno()));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    std::string error = Errno();
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot stat token file ", path, ": ", error));
  }
  // Checked on the open fd, so the file cannot be swapped in between.
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("token file ", path, " is not a regular file"));
  }
  if (st.st_uid != ::geteuid() && st.st_uid != 0) {
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("token file ", path, " is owned by uid ", st.st_uid,
                     ", not by this user (uid ", ::geteuid(), ")"));
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return absl::FailedPreconditionError(absl::StrFormat(
        "token file %s has mode %04o: other users can reach it; run "
        "`chmod 600 %s`",
        path, st.st_mode & 07777, path));
  }
  std::string contents;
  char buffer[1024];
  while (contents.size() <= kMaxTokenBytes + 2) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string error = Errno();
      ::close(fd);
      return absl::FailedPreconditionError(
          absl::StrCat("cannot read token file ", path, ": ", error));
    }
    if (n == 0) break;
    contents.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  // The token is the first line; a trailing newline is normal.
  std::string token(absl::StripAsciiWhitespace(
      absl::string_view(contents).substr(0, contents.find('\n'))));
  std::fill(contents.begin(), contents.end(), '\0');
  LK_RETURN_IF_ERROR(ValidateToken(token));
  return token;
}

absl::StatusOr<AgentToken> LoadAgentToken(const std::string& token_file) {
  char* env = std::getenv(kTokenEnvVar);
  if (env != nullptr && env[0] != '\0') {
    AgentToken result{std::string(absl::StripAsciiWhitespace(env)), "env"};
    // Keep the token out of /proc/<pid>/environ and any child process.
    std::memset(env, 0, std::strlen(env));
    ::unsetenv(kTokenEnvVar);
    LK_RETURN_IF_ERROR(ValidateToken(result.token));
    return result;
  }
  if (token_file.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "no agent token: set ", kTokenEnvVar,
        " in the MCP client's server configuration (\"env\"), or pass "
        "--token_file=<path to a file readable only by you>"));
  }
  LK_ASSIGN_OR_RETURN(std::string token, ReadTokenFile(token_file));
  return AgentToken{std::move(token), token_file};
}

absl::StatusOr<std::string> LoadClientToken(const ClientTokenSource& source) {
  std::string token;
  char* env = std::getenv(source.env_var);
  if (env != nullptr && env[0] != '\0') {
    token = std::string(absl::StripAsciiWhitespace(env));
    std::memset(env, 0, std::strlen(env));
    ::unsetenv(source.env_var);
  } else if (!source.token_file.empty()) {
    LK_ASSIGN_OR_RETURN(token, ReadTokenFile(source.token_file));
  } else {
    return absl::NotFoundError(source.missing_hint);
  }
  if (absl::Status valid = ValidateToken(token); !valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source.what, ": ", valid.message()));
  }
  if (token.size() < source.min_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ", source.what, " is shorter than ", source.min_bytes,
                     " characters; use a random one"));
  }
  return token;
}

}  // namespace latchkey::mcp
