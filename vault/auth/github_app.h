// GitHub App authentication: the secret is the app's PEM private key. The
// vault signs a short RS256 JWT (iss = app id), exchanges it at
// POST {api_origin}/app/installations/{id}/access_tokens for an
// installation token, caches that token in secure memory until 5 minutes
// before its one-hour expiry, and sends "Authorization: Bearer <token>".
#ifndef LATCHKEY_VAULT_AUTH_GITHUB_APP_H_
#define LATCHKEY_VAULT_AUTH_GITHUB_APP_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/vault.pb.h"
#include "vault/auth_scheme.h"

namespace latchkey::vault::auth {

absl::StatusOr<std::unique_ptr<AuthScheme>> MakeGitHubApp(
    const v1::GitHubAppAuth& config);

// GitHubAppJwt is the RS256 JWT GitHub expects: iat 60 s in the past (clock
// drift), exp 9 minutes ahead (GitHub allows at most 10), iss the app id.
absl::StatusOr<SecureBuffer> GitHubAppJwt(const SecureBuffer& private_key_pem,
                                          const std::string& app_id,
                                          absl::Time now);

}  // namespace latchkey::vault::auth

#endif  // LATCHKEY_VAULT_AUTH_GITHUB_APP_H_
