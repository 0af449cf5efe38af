// Helpers shared by the auth schemes: putting credential parts on a request
// without colliding with the agent's own, the one query encoding the
// UpstreamClient also uses (so what is signed is what is sent), HMAC and
// base64 over OpenSSL, and reading multi-part secrets stored as JSON.
#ifndef LATCHKEY_VAULT_AUTH_AUTH_UTIL_H_
#define LATCHKEY_VAULT_AUTH_AUTH_UTIL_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/secure_buffer.h"
#include "vault/outgoing_request.h"
#include "vault/response_scrubber.h"

namespace latchkey::vault::auth {

// IsNameToken: a header or query parameter name a scheme may be configured
// with (letters, digits, '-', '_'; not empty).
bool IsNameToken(absl::string_view name);

// RefuseHeaderCollision / RefuseQueryCollision: INVALID_ARGUMENT when the
// agent already sent a header (case-insensitive) / query parameter that the
// credential sets; RefuseHeaderCollision also FAILED_PRECONDITION when the
// credential already set that header (a config naming it twice).
absl::Status RefuseHeaderCollision(const OutgoingRequest& request,
                                   absl::string_view name);
absl::Status RefuseQueryCollision(const OutgoingRequest& request,
                                  absl::string_view name);

// SecureConcat builds prefix + middle + suffix directly in secure memory.
SecureBuffer SecureConcat(absl::string_view prefix, absl::string_view middle,
                          absl::string_view suffix);

// AddCredentialHeader adds a secret-bearing header (refusing CR/LF/NUL) and
// registers its value with the scrubber.
absl::Status AddCredentialHeader(absl::string_view name, SecureBuffer value,
                                 OutgoingRequest* request,
                                 ResponseScrubber* scrubber);
// AddPlainHeader adds a non-secret header the scheme needs (a timestamp, a
// key id): not scrubbed, since scrubbing a date would mangle responses.
absl::Status AddPlainHeader(absl::string_view name, absl::string_view value,
                            OutgoingRequest* request);

// PercentEncode encodes all but RFC 3986 unreserved characters with
// upper-case hex, exactly as UpstreamClient encodes query components; this
// is also AWS's UriEncode and RFC 5849's encoding.
std::string PercentEncode(absl::string_view text);
// PercentDecode decodes %XX (and, if plus_is_space, '+'); malformed escapes
// are kept as they are.
std::string PercentDecode(absl::string_view text, bool plus_is_space);
// WireQuery is the agent's query as UpstreamClient will send it, without
// the leading '?' (credential query parameters excluded).
std::string WireQuery(const OutgoingRequest& request);
// HostHeader is the Host header value for a canonical "scheme://host:port"
// origin: the port is left out when it is the scheme's default, as curl
// does.
std::string HostHeader(absl::string_view origin);

// Hmac returns the raw MAC (EVP digest name "sha1", "sha256", "sha512").
std::string Hmac(absl::string_view digest, absl::string_view key,
                 absl::string_view data);
std::string Base64Encode(absl::string_view bytes);
// Base64EncodeSecure encodes secret bytes straight into secure memory.
SecureBuffer Base64EncodeSecure(absl::string_view bytes);
absl::StatusOr<SecureBuffer> Base64Decode(absl::string_view text);
// RandomNonce returns 32 lower-case hex characters from the CSPRNG.
std::string RandomNonce();

// SecretFields parses a secret stored as a JSON object of strings. Every
// name in `required` must be present and non-empty; names outside
// `required` and `optional` are refused (a typo would otherwise be
// silently ignored). Errors name fields, never values. The JSON parser's
// own copies are cleansed before returning.
absl::StatusOr<std::map<std::string, SecureBuffer>> SecretFields(
    const SecureBuffer& secret, const std::vector<std::string>& required,
    const std::vector<std::string>& optional);

}  // namespace latchkey::vault::auth

#endif  // LATCHKEY_VAULT_AUTH_AUTH_UTIL_H_
