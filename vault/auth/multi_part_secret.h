// Multi-part secrets: a stored value that is a JSON object of strings, one
// field of which is the scheme's secret while others go out as headers of
// their own (an exchange's passphrase, Datadog's application key). The
// wrapper reads the parts, sends the extra headers and hands the one part
// to the scheme it wraps, so every scheme that takes a plain secret takes
// a multi-part one without knowing it.
#ifndef LATCHKEY_VAULT_AUTH_MULTI_PART_SECRET_H_
#define LATCHKEY_VAULT_AUTH_MULTI_PART_SECRET_H_

#include <memory>

#include "absl/status/statusor.h"
#include "proto/vault.pb.h"
#include "vault/auth_scheme.h"

namespace latchkey::vault::auth {

// UsesMultiPartSecret: `config` sets secret_field or secret_headers.
bool UsesMultiPartSecret(const v1::AuthScheme& config);

// WrapMultiPartSecret checks config.secret_field / secret_headers and wraps
// `inner` (made from config's scheme) so it is applied to that field.
// INVALID_ARGUMENT for a scheme that reads a JSON secret itself, a bad
// field or header name, or a header template without one {secret}.
absl::StatusOr<std::unique_ptr<AuthScheme>> WrapMultiPartSecret(
    const v1::AuthScheme& config, std::unique_ptr<AuthScheme> inner);

}  // namespace latchkey::vault::auth

#endif  // LATCHKEY_VAULT_AUTH_MULTI_PART_SECRET_H_
