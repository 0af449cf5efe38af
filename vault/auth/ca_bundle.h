// A secret's extra CA bundle: PEM certificates of a private CA that the
// vault trusts, for that secret's origins only, in addition to the system
// store.
#ifndef LATCHKEY_VAULT_AUTH_CA_BUNDLE_H_
#define LATCHKEY_VAULT_AUTH_CA_BUNDLE_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace latchkey::vault::auth {

// ValidateCaBundle accepts one or more PEM "CERTIFICATE" blocks that
// OpenSSL parses, and nothing else (no private keys), within the limit.
absl::Status ValidateCaBundle(absl::string_view pem);

}  // namespace latchkey::vault::auth

#endif  // LATCHKEY_VAULT_AUTH_CA_BUNDLE_H_
