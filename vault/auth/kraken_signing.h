// Kraken's private REST API signature
// (docs.kraken.com/api/docs/guides/spot-rest-auth): unlike the template
// driven HMAC scheme it hashes twice and puts a nonce inside the signed
// form body, so it is a scheme of its own.
#ifndef LATCHKEY_VAULT_AUTH_KRAKEN_SIGNING_H_
#define LATCHKEY_VAULT_AUTH_KRAKEN_SIGNING_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "proto/vault.pb.h"
#include "vault/auth_scheme.h"

namespace latchkey::vault::auth {

absl::StatusOr<std::unique_ptr<AuthScheme>> MakeKrakenSigning(
    const v1::KrakenAuth& config);

// NextKrakenNonce returns an integer larger than every one it returned
// before in this process and at least `now` in milliseconds: Kraken refuses
// a nonce that does not increase, and concurrent requests must not share
// one.
uint64_t NextKrakenNonce(int64_t now_ms);

}  // namespace latchkey::vault::auth

#endif  // LATCHKEY_VAULT_AUTH_KRAKEN_SIGNING_H_
