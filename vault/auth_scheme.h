// AuthScheme puts a secret on the wire for one request. Each scheme is one
// small class behind this interface (the simple header/query ones below in
// auth_scheme.cc, the signing and token-exchange ones under vault/auth/);
// MakeAuthScheme is the only place that maps the configured scheme to its
// class.
#ifndef LATCHKEY_VAULT_AUTH_SCHEME_H_
#define LATCHKEY_VAULT_AUTH_SCHEME_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/secure_buffer.h"
#include "proto/vault.pb.h"
#include "vault/outgoing_request.h"
#include "vault/response_scrubber.h"

namespace latchkey::vault {

class TokenCache;

// TokenResponse is what a token endpoint answered. `body` may hold a
// derived token: the caller cleanses it after parsing.
struct TokenResponse {
  int status = 0;
  std::string body;
};

// TokenFetch sends one request to a token endpoint (through the vault's
// UpstreamClient) and returns the answer, or the transport error.
using TokenFetch =
    std::function<absl::StatusOr<TokenResponse>(const OutgoingRequest&)>;

// Derived state is a small value a scheme derives from one secret version
// and must not lose on a restart (a rotated OAuth2 refresh token). The
// vault seals it under its keyring like a secret value and drops it with
// the version. Load gives nullopt when nothing is stored.
using LoadDerivedState =
    std::function<absl::StatusOr<std::optional<SecureBuffer>>(
        absl::string_view name)>;
using SaveDerivedState = std::function<absl::Status(absl::string_view name,
                                                    const SecureBuffer& value)>;

// AuthContext is what a scheme may need beyond the request itself. The
// defaults suit the pure header schemes; signing schemes read `now` and
// `nonce`; token-exchange schemes need `tokens`, `fetch`, `cache_key` and
// `bound_origins`.
struct AuthContext {
  absl::Time now = absl::Now();
  // nonce, when set, replaces the random nonce (tests use the published
  // vectors' nonces).
  std::string nonce;
  TokenCache* tokens = nullptr;
  TokenFetch fetch;
  // cache_key identifies the secret version ("id@version") whose derived
  // token is cached.
  std::string cache_key;
  // bound_origins are the secret's canonical origins: a token endpoint
  // must be one of them.
  std::vector<std::string> bound_origins;
  // ca_bundle_pem: extra CA certificates for the token endpoint.
  std::string ca_bundle_pem;
  // load_state / save_state reach the derived state of the secret version
  // `cache_key` names; unset outside the vault's egress path.
  LoadDerivedState load_state;
  SaveDerivedState save_state;
};

class AuthScheme {
 public:
  virtual ~AuthScheme() = default;
  // Apply adds the credential to `request` and registers with `scrubber`
  // every form of it that goes on the wire (including derived tokens and
  // signatures). It refuses (INVALID_ARGUMENT) an agent header or query
  // parameter that would collide with the credential's own.
  virtual absl::Status Apply(const SecureBuffer& secret,
                             const AuthContext& context,
                             OutgoingRequest* request,
                             ResponseScrubber* scrubber) const = 0;
  // Apply with a default context (now, random nonce, no token exchange).
  absl::Status Apply(const SecureBuffer& secret, OutgoingRequest* request,
                     ResponseScrubber* scrubber) const {
    return Apply(secret, AuthContext(), request, scrubber);
  }
  // SignsBody is true when Apply reads request.body (an HMAC template with
  // {body}, a SigV4 payload hash, an OAuth1 form body): such a request
  // needs its whole body in memory, so it cannot be streamed.
  virtual bool SignsBody(const OutgoingRequest& request) const {
    (void)request;
    return false;
  }
  // ValidateSecret checks, at PutSecret, that the value has the format
  // this scheme needs (e.g. a JSON object with the right fields), with an
  // error that never quotes the value.
  virtual absl::Status ValidateSecret(const SecureBuffer& secret) const {
    (void)secret;
    return absl::OkStatus();
  }
};

absl::StatusOr<std::unique_ptr<AuthScheme>> MakeAuthScheme(
    const v1::AuthScheme& config);

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_AUTH_SCHEME_H_
