// NormalizePath: the one place that decides which path a policy rule is
// matched against AND which path the vault sends upstream.
//
// Why one function: a policy check is only as good as the agreement between
// the string the broker matched and the string the upstream server routes
// on. If the broker matched "/v1/%2e%2e/admin" literally while the upstream
// resolved it to "/admin", a deny rule could be walked around. So the broker
// normalizes once, matches the result, and forwards exactly the result;
// anything whose meaning differs between servers (encoded '/', backslash,
// control bytes, overlong UTF-8, '..' above the root) is refused instead of
// guessed at.
#ifndef LATCHKEY_RULES_PATH_NORMALIZER_H_
#define LATCHKEY_RULES_PATH_NORMALIZER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace latchkey::policy {

// NormalizePath returns the canonical form of an HTTP request path (the
// path only: no scheme, host, query or fragment), or INVALID_ARGUMENT with a
// message a model can act on.
//
// Accepted input and the canonical output:
//  - Must start with '/'; '?' and '#' are refused (query parameters travel
//    in HttpRequest.query, fragments are never sent).
//  - %XX of an unreserved character (ALPHA DIGIT - . _ ~) is decoded; every
//    other %XX is kept, with upper-case hex ("%3a" -> "%3A").
//  - Raw bytes >= 0x80 must be valid UTF-8 and are percent-encoded; raw
//    ASCII that RFC 3986 does not allow in a path (space " < > [ ] ^ ` { | })
//    is percent-encoded too. So the upstream sees exactly one form.
//  - Runs of '/' collapse to one; "." and ".." segments are removed as in
//    RFC 3986 5.2.4 (after decoding, so "%2e%2e" is ".."); a final "." or
//    ".." leaves a trailing '/', as in the RFC ("/a/b/.." -> "/a/").
//  - A trailing '/' is preserved: many APIs route "/x" and "/x/" apart.
// Refused: empty input; %2F / %5C (any case); a raw '\'; NUL, any other
// control byte (< 0x20, 0x7F) raw or percent-encoded; malformed '%'
// escapes; invalid UTF-8 (overlong, surrogate, truncated, > U+10FFFF),
// judged over raw bytes and decoded %XX >= 0x80 taken together; a ".."
// that would climb above the root (refused, never clamped); a "." or ".."
// segment carrying ';' parameters ("..;" is ".." to Tomcat/Spring); input
// or output longer than kMaxPathBytes.
//
// The output is a fixed point: NormalizePath(*NormalizePath(x)) ==
// *NormalizePath(x) for every accepted x. It contains only printable ASCII.
absl::StatusOr<std::string> NormalizePath(absl::string_view raw);

}  // namespace latchkey::policy

#endif  // LATCHKEY_RULES_PATH_NORMALIZER_H_
