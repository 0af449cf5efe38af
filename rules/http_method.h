// HTTP method checks shared by requests and policy rules.
//
// Why strict: rules compare methods byte for byte, so a request method must
// have exactly one spelling. HTTP methods are case-sensitive (RFC 9110 9.1)
// and every standard one is upper case; a request saying "get" is refused
// rather than upper-cased, so what is checked is what would be sent.
// Rules are written by operators, so there "get" is normalized to "GET"
// once, at compile time.
#ifndef LATCHKEY_RULES_HTTP_METHOD_H_
#define LATCHKEY_RULES_HTTP_METHOD_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace latchkey::policy {

// IsHttpToken: non-empty and only RFC 7230 tchar
// ("!#$%&'*+-.^_`|~", DIGIT, ALPHA).
bool IsHttpToken(absl::string_view s);

// ValidateRequestMethod accepts an RFC 7230 token of at most
// kMaxMethodBytes with no lower-case letter, other than "*" (a wildcard
// only in rules). Otherwise INVALID_ARGUMENT saying what to send instead.
absl::Status ValidateRequestMethod(absl::string_view method);

// NormalizeRuleMethod upper-cases a rule's method ("get" -> "GET") and
// checks it is "*" or a token of at most kMaxMethodBytes without "*".
absl::StatusOr<std::string> NormalizeRuleMethod(absl::string_view method);

}  // namespace latchkey::policy

#endif  // LATCHKEY_RULES_HTTP_METHOD_H_
