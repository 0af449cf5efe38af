// VaultCore is the vault's state machine: uninitialized → sealed ⇄ unsealed.
// It owns the keyring's plaintext data keys (only while unsealed) and is the
// only code that seals or opens secret values.
//
// Unseal methods, chosen at Init:
//  - Shamir k-of-n shares of the root key (default 3 of 5), one per call.
//  - a passphrase: the root key wrapped under an scrypt-derived key.
//  - a systemd credential: the raw root key, read at start-up from
//    $CREDENTIALS_DIRECTORY/<name> (see unseal_credential.h).
//
// Secret-bearing memory and its lifetime (all SecureBuffers: secure heap,
// zeroized by OPENSSL_cleanse when dropped):
//  - root_key_: from a successful unseal until Seal (or destruction). Rekey
//    replaces it; the old one is zeroized at once.
//  - data_keys_: one per keyring term, from unseal until Seal.
//  - pending_shares_ / rekey_shares_: submitted Shamir shares, until the
//    threshold is reached (then zeroized whether or not they recombine),
//    Unseal/Rekey reset, or Seal.
//  - rekey_new_passphrase_: the new passphrase of a pending Rekey, until it
//    completes, is reset, or Seal.
//  - a recombined / unwrapped candidate root key: a local of Unseal/Rekey;
//    moved into root_key_ if it opens the keyring, zeroized otherwise.
//  - a freshly generated root key and its shares at Init/Rekey: locals,
//    zeroized on return; their text form leaves only in the one reply.
//  - a decrypted secret value: a SecureBuffer that lives only inside
//    UseSecret(), i.e. for one upstream request, zeroized on return.
//  - a decrypted value during rewrap: a local of RewrapBatch, zeroized as
//    soon as it has been re-sealed.
//  - decrypted derived state (a rotated refresh token): the SecureBuffer
//    LoadDerivedState returns, owned by the auth scheme's token fetch and
//    zeroized when that returns.
//
// Seal bumps a generation counter; UseSecret checks it again after the
// request and fails with FAILED_PRECONDITION if a Seal happened meanwhile,
// so no response obtained across a Seal is returned.
#ifndef LATCHKEY_VAULT_VAULT_CORE_H_
#define LATCHKEY_VAULT_VAULT_CORE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/secure_buffer.h"
#include "proto/vault.pb.h"
#include "vault/auth/token_cache.h"
#include "vault/scrypt_kdf.h"
#include "vault/secret_store.h"
#include "vault/shamir.h"

namespace latchkey::vault {

// How many versions of a secret are kept (the newest and older ones).
inline constexpr uint32_t kSecretVersionsKept = 5;
// Secrets shorter than this cannot be reliably scrubbed from responses.
inline constexpr size_t kMinSecretBytes = 8;
// Default Shamir split when Init does not name one.
inline constexpr uint32_t kDefaultShares = 5;
inline constexpr uint32_t kDefaultThreshold = 3;

struct VaultCoreOptions {
  // scrypt parameters for new passphrases (Init, Rekey). Unseal always uses
  // the parameters stored with the wrapped key.
  ScryptParams scrypt = kDefaultScryptParams;
  // Failed unseal attempts (wrong passphrase, shares that do not recombine,
  // a wrong credential key) back off exponentially: after the n-th
  // consecutive failure, submissions are refused for base * 2^(n-1), capped.
  absl::Duration unseal_backoff_base = absl::Seconds(1);
  absl::Duration unseal_backoff_max = absl::Minutes(5);
  // A background thread moves ciphertexts to the newest keyring term after
  // unseal and RotateKeyring. Off: call RewrapBatch yourself.
  bool background_rewrap = true;
  size_t rewrap_batch = 256;
};

class VaultCore {
 public:
  explicit VaultCore(std::unique_ptr<SecretStore> store,
                     VaultCoreOptions options = VaultCoreOptions());
  ~VaultCore();
  VaultCore(const VaultCore&) = delete;
  VaultCore& operator=(const VaultCore&) = delete;

  v1::VaultStatus Status() const;
  absl::StatusOr<v1::InitResponse> Init(const v1::InitRequest& request);
  absl::StatusOr<v1::VaultStatus> Unseal(const v1::UnsealRequest& request);
  // UnsealWithRootKey unseals a UNSEAL_METHOD_SYSTEMD_CREDENTIAL vault with
  // the root key read from its credential.
  absl::StatusOr<v1::VaultStatus> UnsealWithRootKey(SecureBuffer root_key);
  v1::VaultStatus Seal();
  absl::StatusOr<v1::RekeyResponse> Rekey(const v1::RekeyRequest& request);
  absl::StatusOr<v1::RotateKeyringResponse> RotateKeyring();
  // RewrapBatch moves up to `limit` versions to the newest term; returns how
  // many moved (0 when nothing is left, or sealed).
  absl::StatusOr<uint32_t> RewrapBatch(size_t limit);

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
  // FAILED_PRECONDITION when sealed (also when sealed while `use` ran),
  // NOT_FOUND when unknown, DATA_LOSS when any stored field was tampered
  // with.
  absl::Status UseSecret(absl::string_view id, const SecretUse& use);

  // LoadDerivedState / SaveDerivedState keep what an auth scheme derived
  // from version `version` of secret `id` and must not lose on restart (a
  // rotated OAuth2 refresh token; see AuthContext::load_state). The value
  // is sealed like a secret value (newest keyring term, associated data
  // binding id, version, name and term), rewrapped with the keyring,
  // dropped when a newer version is stored or the secret is deleted, and
  // kept by backups (they copy the store). Load gives nullopt when nothing
  // is stored; Save does nothing when `version` is no longer the newest.
  // Both fail with FAILED_PRECONDITION when sealed.
  absl::StatusOr<std::optional<SecureBuffer>> LoadDerivedState(
      absl::string_view id, uint32_t version, absl::string_view name);
  absl::Status SaveDerivedState(absl::string_view id, uint32_t version,
                                absl::string_view name,
                                const SecureBuffer& value);

  // tokens caches tokens derived from secrets (OAuth2, GitHub App). Seal
  // clears it; PutSecret and DeleteSecret drop that secret's tokens.
  TokenCache* tokens() { return &tokens_; }

  // seal_generation changes on every Seal. A long use of a secret (a
  // streamed answer) compares it between chunks to stop as soon as the
  // vault is sealed, rather than only when UseSecret returns.
  uint64_t seal_generation() const { return seal_generation_.load(); }

 private:
  // Normalized new seal configuration from Init/Rekey fields.
  struct SealPlan {
    v1::UnsealMethod method = v1::UNSEAL_METHOD_UNSPECIFIED;
    uint32_t shares = 0;
    uint32_t threshold = 0;
  };
  // Unseal material produced for a new root key: store meta and reply.
  struct SealMaterial {
    std::map<std::string, std::string> meta;
    std::vector<std::string> delete_meta;
    std::vector<std::string> unseal_keys;  // cleansed by the caller.
  };
  static absl::StatusOr<SealPlan> MakePlan(v1::UnsealMethod method,
                                           uint32_t shares, uint32_t threshold,
                                           absl::string_view passphrase);
  absl::StatusOr<SealMaterial> MakeMaterial(const SealPlan& plan,
                                            const SecureBuffer& root_key,
                                            absl::string_view passphrase);

  absl::Status RequireUnsealed() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  v1::VaultStatus StatusLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::Status CheckBackoff() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::Status RecordFailure(absl::string_view why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Opens every keyring term with `candidate`; on success installs it.
  absl::Status InstallRootKey(SecureBuffer candidate)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds a share to `pending`; returns the recombined key once the
  // threshold is reached (and clears `pending`), or std::nullopt.
  absl::StatusOr<std::optional<SecureBuffer>> AddShare(
      absl::string_view text, std::map<uint8_t, ShamirShare>* pending)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<v1::SecretMetadata> DecodeMetadata(const SecretRow& row) const;
  // Opens the sealed value of `row`, checking every authenticated field.
  absl::StatusOr<SecureBuffer> OpenValue(const SecretRow& row) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // RewrapDerivedBatch is RewrapBatch's part for derived state.
  absl::StatusOr<uint32_t> RewrapDerivedBatch(size_t limit);
  void WakeRewrap();
  void RewrapLoop();

  const VaultCoreOptions options_;
  std::unique_ptr<SecretStore> store_;
  // material_mu_ serializes everything that reads or replaces unseal
  // material (Init, Unseal, Rekey, RotateKeyring), including the slow
  // scrypt derivation, so parallel guesses cannot bypass the backoff.
  absl::Mutex material_mu_ ABSL_ACQUIRED_BEFORE(write_mu_);
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);  // version assignment.
  mutable absl::Mutex mu_;
  v1::VaultStatus config_ ABSL_GUARDED_BY(mu_);  // method, shares, threshold.
  bool initialized_ ABSL_GUARDED_BY(mu_) = false;
  std::string passphrase_wrap_ ABSL_GUARDED_BY(mu_);  // WrappedRootKey text.
  SecureBuffer root_key_ ABSL_GUARDED_BY(mu_);
  std::map<uint32_t, SecureBuffer> data_keys_ ABSL_GUARDED_BY(mu_);
  uint32_t newest_term_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint8_t, ShamirShare> pending_shares_ ABSL_GUARDED_BY(mu_);
  // A pending Rekey: its plan, new passphrase and current shares.
  std::optional<SealPlan> rekey_plan_ ABSL_GUARDED_BY(mu_);
  SecureBuffer rekey_new_passphrase_ ABSL_GUARDED_BY(mu_);
  std::map<uint8_t, ShamirShare> rekey_shares_ ABSL_GUARDED_BY(mu_);
  // Unseal rate limiting.
  uint32_t failed_attempts_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time retry_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::atomic<uint64_t> seal_generation_{0};
  TokenCache tokens_;

  // Background rewrap thread.
  std::mutex rewrap_mu_;
  std::condition_variable rewrap_cv_;
  bool rewrap_wake_ = false;
  bool rewrap_stop_ = false;
  std::thread rewrap_thread_;
};

// ValidateSecretId checks [a-z0-9][a-z0-9._-]{0,127}.
absl::Status ValidateSecretId(absl::string_view id);

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_VAULT_CORE_H_
