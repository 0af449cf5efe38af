// VaultCore is the vault's state machine: uninitialized → sealed ⇄ unsealed.
// It owns the keyring's plaintext data keys (only while unsealed) and is the
// only code that seals or opens secret values.
//
// Secret-bearing memory and its lifetime:
//  - root_key_: SecureBuffer, from Unseal until Seal.
//  - data_keys_: SecureBuffers, from Unseal until Seal.
//  - a decrypted secret value: a SecureBuffer that lives only inside
//    UseSecret(), i.e. for one upstream request, zeroized on return.
#ifndef LATCHKEY_VAULT_VAULT_CORE_H_
#define LATCHKEY_VAULT_VAULT_CORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/secure_buffer.h"
#include "proto/vault.pb.h"
#include "vault/secret_store.h"

namespace latchkey::vault {

// How many versions of a secret are kept (the newest and older ones).
inline constexpr uint32_t kSecretVersionsKept = 5;
// Secrets shorter than this cannot be reliably scrubbed from responses.
inline constexpr size_t kMinSecretBytes = 8;

class VaultCore {
 public:
  explicit VaultCore(std::unique_ptr<SecretStore> store);

  v1::VaultStatus Status() const;
  absl::StatusOr<v1::InitResponse> Init(const v1::InitRequest& request);
  absl::StatusOr<v1::VaultStatus> Unseal(const v1::UnsealRequest& request);
  v1::VaultStatus Seal();

  absl::StatusOr<v1::SecretMetadata> PutSecret(
      const v1::PutSecretRequest& request);
  absl::StatusOr<v1::SecretMetadata> GetSecretMetadata(absl::string_view id);
  absl::StatusOr<v1::ListSecretsResponse> ListSecrets();
  absl::StatusOr<v1::DeleteSecretResponse> DeleteSecret(absl::string_view id);

  // SecretUse receives the metadata and the decrypted value; the value is
  // zeroized as soon as it returns.
  using SecretUse = std::function<absl::Status(const v1::SecretMetadata&,
                                               const SecureBuffer& value)>;
  // UseSecret decrypts the newest version of `id` for the duration of `use`.
  // FAILED_PRECONDITION when sealed, NOT_FOUND when unknown, DATA_LOSS when
  // any stored field was tampered with.
  absl::Status UseSecret(absl::string_view id, const SecretUse& use);

 private:
  absl::Status RequireUnsealed() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::StatusOr<v1::SecretMetadata> DecodeMetadata(const SecretRow& row) const;
  // Opens the sealed value of `row`, checking every authenticated field.
  absl::StatusOr<SecureBuffer> OpenValue(const SecretRow& row) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  std::unique_ptr<SecretStore> store_;
  mutable absl::Mutex mu_;
  v1::VaultStatus config_ ABSL_GUARDED_BY(mu_);  // method, shares, threshold.
  bool initialized_ ABSL_GUARDED_BY(mu_) = false;
  SecureBuffer root_key_ ABSL_GUARDED_BY(mu_);
  std::map<uint32_t, SecureBuffer> data_keys_ ABSL_GUARDED_BY(mu_);
  uint32_t newest_term_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Mutex write_mu_;  // Serializes version assignment in PutSecret.
};

// ValidateSecretId checks [a-z0-9][a-z0-9._-]{0,127}.
absl::Status ValidateSecretId(absl::string_view id);

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_VAULT_CORE_H_
