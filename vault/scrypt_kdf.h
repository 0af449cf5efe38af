// scrypt (RFC 7914) through OpenSSL's EVP_PBE_scrypt, used to turn an
// operator's passphrase into the key that wraps the vault's root key.
//
// Buffer lifetimes: the derived key is a SecureBuffer owned by the caller
// (the vault drops it as soon as the root key is wrapped or unwrapped).
// OpenSSL's scratch memory (128*N*r bytes) is cleansed and freed inside
// EVP_PBE_scrypt.
#ifndef LATCHKEY_VAULT_SCRYPT_KDF_H_
#define LATCHKEY_VAULT_SCRYPT_KDF_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/secure_buffer.h"

namespace latchkey::vault {

struct ScryptParams {
  uint64_t n = uint64_t{1} << 17;  // CPU/memory cost: 128 MiB with r = 8.
  uint32_t r = 8;
  uint32_t p = 1;
};

// The defaults above are the strong ones; tests inject cheaper parameters.
inline constexpr ScryptParams kDefaultScryptParams{};
inline constexpr size_t kScryptSaltBytes = 16;
inline constexpr size_t kMinPassphraseBytes = 12;
inline constexpr size_t kMaxPassphraseBytes = 1024;

// Scrypt derives `key_bytes` bytes. INVALID_ARGUMENT for parameters that
// OpenSSL refuses (N not a power of two, too much memory).
absl::StatusOr<SecureBuffer> Scrypt(absl::string_view passphrase,
                                    absl::string_view salt,
                                    const ScryptParams& params,
                                    size_t key_bytes);

// WrappedRootKey is what the store keeps for the passphrase method: the
// scrypt parameters, salt and the root key sealed (AES-256-GCM) under the
// derived key. Serialized as "scrypt$N$r$p$<salt hex>$<sealed hex>".
struct WrappedRootKey {
  ScryptParams params;
  std::string salt;
  std::string sealed_root_key;
  std::string Serialize() const;
  static absl::StatusOr<WrappedRootKey> Parse(absl::string_view text);
};

// WrapRootKey draws a fresh salt and wraps `root_key` under `passphrase`.
absl::StatusOr<WrappedRootKey> WrapRootKey(const SecureBuffer& root_key,
                                           absl::string_view passphrase,
                                           const ScryptParams& params);
// UnwrapRootKey returns PERMISSION_DENIED for a wrong passphrase.
absl::StatusOr<SecureBuffer> UnwrapRootKey(const WrappedRootKey& wrapped,
                                           absl::string_view passphrase);

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_SCRYPT_KDF_H_
