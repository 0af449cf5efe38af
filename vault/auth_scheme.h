// AuthScheme puts a secret on the wire for one request. Each scheme is one
// small class behind this interface; MakeAuthScheme is the only place that
// maps the configured scheme to its class.
#ifndef LATCHKEY_VAULT_AUTH_SCHEME_H_
#define LATCHKEY_VAULT_AUTH_SCHEME_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/secure_buffer.h"
#include "proto/vault.pb.h"
#include "vault/outgoing_request.h"
#include "vault/response_scrubber.h"

namespace latchkey::vault {

class AuthScheme {
 public:
  virtual ~AuthScheme() = default;
  // Apply adds the credential to `request` and registers with `scrubber`
  // every form of it that goes on the wire. It refuses (INVALID_ARGUMENT)
  // an agent header or query parameter that would collide with the
  // credential's own.
  virtual absl::Status Apply(const SecureBuffer& secret,
                             OutgoingRequest* request,
                             ResponseScrubber* scrubber) const = 0;
};

absl::StatusOr<std::unique_ptr<AuthScheme>> MakeAuthScheme(
    const v1::AuthScheme& config);

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_AUTH_SCHEME_H_
