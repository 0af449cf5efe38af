#include "rules/http_method.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/limits.h"

namespace latchkey::policy {
namespace {

bool IsTchar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

}  // namespace

bool IsHttpToken(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTchar(c)) return false;
  }
  return true;
}

absl::Status ValidateRequestMethod(absl::string_view method) {
  if (method.empty()) {
    return absl::InvalidArgumentError(
        "the HTTP method is empty; send one such as \"GET\"");
  }
  if (method.size() > kMaxMethodBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the HTTP method is longer than ", kMaxMethodBytes, " bytes"));
  }
  if (!IsHttpToken(method)) {
    return absl::InvalidArgumentError(
        "the HTTP method contains characters that are not allowed; send a "
        "method such as \"GET\" or \"POST\"");
  }
  if (method == "*") {
    return absl::InvalidArgumentError(
        "\"*\" is not an HTTP method (it is a wildcard in rules only); send "
        "a method such as \"GET\"");
  }
  for (char c : method) {
    if (absl::ascii_islower(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "HTTP methods are case-sensitive and must be upper case: send \"",
          absl::AsciiStrToUpper(method), "\", not \"", method, "\""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> NormalizeRuleMethod(absl::string_view method) {
  if (method == "*") return std::string("*");
  if (method.size() > kMaxMethodBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("method is longer than ", kMaxMethodBytes, " bytes"));
  }
  if (!IsHttpToken(method)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "method \"", absl::CEscape(method),
        "\" is not an HTTP token (use e.g. \"GET\", or \"*\" for any)"));
  }
  if (method.find('*') != absl::string_view::npos) {
    // "GE*" is a legal token but reads like a wildcard; refuse the doubt.
    return absl::InvalidArgumentError(absl::StrCat(
        "method \"", method,
        "\" contains '*'; \"*\" alone means any method, partial wildcards "
        "are not supported"));
  }
  return absl::AsciiStrToUpper(method);
}

}  // namespace latchkey::policy
