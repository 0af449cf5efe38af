// OAuth 2.0 client credentials and refresh-token grants (RFC 6749 4.4 and
// 6) and the JWT-bearer grant (RFC 7523, Google service accounts): the
// vault asks the token endpoint for an access token, caches it in secure
// memory until `expires_in` minus a margin, and sends
// "Authorization: Bearer <access token>". The client secret, refresh token
// and signed assertion never leave the vault except to the token endpoint,
// which must be one of the secret's bound origins.
//
// Refresh-token rotation: when the endpoint answers a refresh with a new
// refresh_token, the scheme saves it as the secret version's derived state
// (AuthContext::save_state: sealed in the vault's store) and sends it from
// then on, also after a restart. A new secret version starts again from
// its own refresh token.
#ifndef LATCHKEY_VAULT_AUTH_OAUTH2_H_
#define LATCHKEY_VAULT_AUTH_OAUTH2_H_

#include <memory>

#include "absl/status/statusor.h"
#include "proto/vault.pb.h"
#include "vault/auth_scheme.h"

namespace latchkey::vault::auth {

absl::StatusOr<std::unique_ptr<AuthScheme>> MakeOAuth2(
    const v1::OAuth2Auth& config);

// RefreshMargin is how long before `expires_in` runs out the token is
// replaced: a minute, or half the lifetime for short-lived tokens.
absl::Duration OAuth2RefreshMargin(absl::Duration lifetime);

}  // namespace latchkey::vault::auth

#endif  // LATCHKEY_VAULT_AUTH_OAUTH2_H_
