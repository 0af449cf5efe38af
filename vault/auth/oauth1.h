// OAuth 1.0a request signing with HMAC-SHA1 (RFC 5849 section 3). The
// secret is a JSON object with the consumer secret and the token secret;
// consumer key, token and realm come from the capability's config. The
// signature goes in an "Authorization: OAuth ..." header.
#ifndef LATCHKEY_VAULT_AUTH_OAUTH1_H_
#define LATCHKEY_VAULT_AUTH_OAUTH1_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/vault.pb.h"
#include "vault/auth_scheme.h"

namespace latchkey::vault::auth {

absl::StatusOr<std::unique_ptr<AuthScheme>> MakeOAuth1(
    const v1::OAuth1Auth& config);

// OAuth1BaseString is the signature base string (RFC 5849 3.4.1) of
// `request` with the protocol parameters `oauth_params`; exposed so the
// RFC's own base-string example can be checked.
std::string OAuth1BaseString(
    const OutgoingRequest& request,
    const std::vector<std::pair<std::string, std::string>>& oauth_params);

}  // namespace latchkey::vault::auth

#endif  // LATCHKEY_VAULT_AUTH_OAUTH1_H_
