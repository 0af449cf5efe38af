// Unattended unseal from a systemd credential. The unit provides the root
// key with LoadCredentialEncrypted=NAME:/etc/credstore.encrypted/NAME (or
// LoadCredential=), systemd decrypts it into a private, non-swappable
// directory and names that directory in $CREDENTIALS_DIRECTORY; the vault
// is started with --unseal_credential=NAME. The key is never taken from an
// ordinary path flag or from an environment variable's value: only the
// directory systemd chose is read.
//
// Buffer lifetimes: the file's bytes are read straight into a SecureBuffer;
// the returned root key is moved into VaultCore (root_key_) or zeroized.
#ifndef LATCHKEY_VAULT_UNSEAL_CREDENTIAL_H_
#define LATCHKEY_VAULT_UNSEAL_CREDENTIAL_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/secure_buffer.h"

namespace latchkey::vault {

// ReadRootKeyCredential reads $CREDENTIALS_DIRECTORY/<name>: 32 raw bytes,
// or 64 hex characters (optionally followed by a newline), as printed by
// Init for UNSEAL_METHOD_SYSTEMD_CREDENTIAL. The file must be a regular
// file owned by us and not readable by group or others.
absl::StatusOr<SecureBuffer> ReadRootKeyCredential(absl::string_view name);

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_UNSEAL_CREDENTIAL_H_
