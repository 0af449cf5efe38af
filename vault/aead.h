// AES-256-GCM sealing of small values (secrets, data keys) with associated
// data. The sealed form is nonce (12 bytes) || ciphertext || tag (16 bytes),
// with a fresh random nonce per seal.
#ifndef LATCHKEY_VAULT_AEAD_H_
#define LATCHKEY_VAULT_AEAD_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/secure_buffer.h"

namespace latchkey::vault {

inline constexpr size_t kAeadKeyBytes = 32;
inline constexpr size_t kAeadNonceBytes = 12;
inline constexpr size_t kAeadTagBytes = 16;

// Seal encrypts `plaintext` under `key` (32 bytes) binding `associated_data`.
absl::StatusOr<std::string> Seal(const SecureBuffer& key,
                                 absl::string_view plaintext,
                                 absl::string_view associated_data);

// Open authenticates and decrypts. Any change to the nonce, ciphertext, tag
// or associated data yields DATA_LOSS; nothing half-decrypted is returned.
// The plaintext lands in a SecureBuffer.
absl::StatusOr<SecureBuffer> Open(const SecureBuffer& key,
                                  absl::string_view sealed,
                                  absl::string_view associated_data);

// Raw primitives with an explicit nonce, for known-answer tests.
absl::StatusOr<std::string> EncryptWithNonce(const SecureBuffer& key,
                                             absl::string_view nonce,
                                             absl::string_view plaintext,
                                             absl::string_view aad);

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_AEAD_H_
