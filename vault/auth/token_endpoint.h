// The token endpoint side of the token-exchange schemes (OAuth2, GitHub
// App): where the endpoint is, the rule that it must be one of the secret's
// bound origins (the credential only goes where the operator allowed), and
// reading the JSON answer without leaving copies of the token behind.
#ifndef LATCHKEY_VAULT_AUTH_TOKEN_ENDPOINT_H_
#define LATCHKEY_VAULT_AUTH_TOKEN_ENDPOINT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vault/auth/token_cache.h"
#include "vault/auth_scheme.h"

namespace latchkey::vault::auth {

struct TokenEndpoint {
  std::string origin;  // canonical "scheme://host:port"
  std::string path;    // "/oauth/token"
};

// ParseTokenUrl splits "https://host[:port]/path" (no query or fragment).
absl::StatusOr<TokenEndpoint> ParseTokenUrl(absl::string_view url);

// RequireBound refuses (PERMISSION_DENIED) an endpoint whose origin is not
// one of the secret's bound origins.
absl::Status RequireBound(const TokenEndpoint& endpoint,
                          const AuthContext& context);

// NewTokenRequest is a request to `endpoint` carrying the secret's CA
// bundle.
OutgoingRequest NewTokenRequest(const TokenEndpoint& endpoint,
                                const AuthContext& context,
                                absl::string_view method);

// TokenFromJson reads the token endpoint's answer: `token_field` (e.g.
// "access_token") and the expiry, from `expires_in` seconds or an RFC 3339
// `expires_at`, defaulting to `now + default_lifetime`. A non-2xx status
// gives UNAVAILABLE naming the status and the OAuth "error" code (never
// the body). `response->body` is cleansed in every case. When
// `refresh_token` is not null and the answer carries a usable
// "refresh_token" (a rotated one), it is copied there; otherwise it is
// left empty.
absl::StatusOr<DerivedToken> TokenFromJson(
    TokenResponse* response, absl::string_view token_field, absl::Time now,
    absl::Duration default_lifetime, SecureBuffer* refresh_token = nullptr);

// RequireTokenPlumbing: FAILED_PRECONDITION when the context has no token
// cache or fetcher (the scheme was used outside the vault's egress path).
absl::Status RequireTokenPlumbing(const AuthContext& context);

}  // namespace latchkey::vault::auth

#endif  // LATCHKEY_VAULT_AUTH_TOKEN_ENDPOINT_H_
