// HMAC request signing for exchange-style APIs: the secret is an HMAC key;
// each request's canonical string (a template over the timestamp, method,
// path, query and body) is signed and the signature sent in a header or
// query parameter, next to the timestamp and key id headers.
#ifndef LATCHKEY_VAULT_AUTH_HMAC_SIGNING_H_
#define LATCHKEY_VAULT_AUTH_HMAC_SIGNING_H_

#include <memory>

#include "absl/status/statusor.h"
#include "proto/vault.pb.h"
#include "vault/auth_scheme.h"

namespace latchkey::vault::auth {

absl::StatusOr<std::unique_ptr<AuthScheme>> MakeHmacSigning(
    const v1::HmacSigningAuth& config);

}  // namespace latchkey::vault::auth

#endif  // LATCHKEY_VAULT_AUTH_HMAC_SIGNING_H_
