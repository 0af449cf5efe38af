// AWS Signature Version 4: the secret is a JSON object with the access key
// id, the secret access key and an optional session token; region and
// service come from the capability's config. Every header sent is signed,
// and the Host header is set explicitly so that what is signed is what is
// sent.
#ifndef LATCHKEY_VAULT_AUTH_AWS_SIGV4_H_
#define LATCHKEY_VAULT_AUTH_AWS_SIGV4_H_

#include <memory>

#include "absl/status/statusor.h"
#include "proto/vault.pb.h"
#include "vault/auth_scheme.h"

namespace latchkey::vault::auth {

absl::StatusOr<std::unique_ptr<AuthScheme>> MakeAwsSigV4(
    const v1::AwsSigV4Auth& config);

}  // namespace latchkey::vault::auth

#endif  // LATCHKEY_VAULT_AUTH_AWS_SIGV4_H_
