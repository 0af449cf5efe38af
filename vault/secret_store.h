// SecretStore is where the vault keeps sealed rows: the keyring (data keys
// sealed by the root key), every secret version (value sealed by a data
// key) and the derived state of a version (a rotated refresh token, sealed
// the same way). It never sees a plaintext key or secret. SQLite is the embedded
// backend; a PostgreSQL backend would implement the same interface.
#ifndef LATCHKEY_VAULT_SECRET_STORE_H_
#define LATCHKEY_VAULT_SECRET_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/schema_migrations.h"

namespace latchkey::vault {

struct KeyringRow {
  uint32_t term = 0;
  std::string sealed_key;  // AES-GCM of the data key under the root key.
};

struct SecretRow {
  std::string id;
  uint32_t version = 0;
  uint32_t term = 0;         // keyring term that sealed the value.
  std::string metadata;      // serialized v1::SecretMetadata (authenticated).
  std::string sealed_value;  // AES-GCM of the value under the data key.
};

// DerivedRow is state a scheme derived from one secret version and must
// keep across restarts (a rotated OAuth2 refresh token), sealed like a
// secret value under a keyring term.
struct DerivedRow {
  std::string id;
  uint32_t version = 0;
  std::string name;          // e.g. "oauth2.refresh_token".
  uint32_t term = 0;         // keyring term that sealed the value.
  std::string sealed_value;  // AES-GCM of the value under the data key.
};

class SecretStore {
 public:
  virtual ~SecretStore() = default;

  // Meta holds small settings such as the seal configuration.
  virtual absl::StatusOr<std::optional<std::string>> GetMeta(
      absl::string_view key) = 0;
  // Initialize writes the seal configuration (meta key "seal_config"),
  // any other `meta` entries and the first keyring term in one
  // transaction; it fails if the store is already initialized.
  virtual absl::Status Initialize(
      const std::map<std::string, std::string>& meta,
      const KeyringRow& first_term) = 0;
  virtual absl::StatusOr<std::vector<KeyringRow>> ListKeyring() = 0;
  // AddKeyringTerm inserts a new, newest term.
  virtual absl::Status AddKeyringTerm(const KeyringRow& row) = 0;
  // ReplaceSealMaterial (Rekey) upserts `meta` entries, deletes the meta
  // keys in `delete_meta` and replaces every keyring row's sealed key, in
  // one transaction. `keyring` must name exactly the existing terms.
  virtual absl::Status ReplaceSealMaterial(
      const std::map<std::string, std::string>& meta,
      const std::vector<std::string>& delete_meta,
      const std::vector<KeyringRow>& keyring) = 0;

  // NextVersion is one more than the newest version of `id` (1 if none).
  virtual absl::StatusOr<uint32_t> NextVersion(absl::string_view id) = 0;
  // PutVersion inserts `row` and destroys versions older than the newest
  // `keep_versions`, and the derived state of every older version, in one
  // transaction.
  virtual absl::Status PutVersion(const SecretRow& row,
                                  uint32_t keep_versions) = 0;
  virtual absl::StatusOr<std::optional<SecretRow>> GetLatest(
      absl::string_view id) = 0;
  // ListLatest returns the newest version of every secret, by id.
  virtual absl::StatusOr<std::vector<SecretRow>> ListLatest() = 0;
  // Delete destroys every version of `id` (and their derived state) and
  // returns how many versions there were.
  virtual absl::StatusOr<uint32_t> Delete(absl::string_view id) = 0;

  // Derived state: at most one row per (id, version, name).
  virtual absl::StatusOr<std::optional<DerivedRow>> GetDerived(
      absl::string_view id, uint32_t version, absl::string_view name) = 0;
  // PutDerived inserts or replaces `row` if its version is still the
  // newest of its secret; returns false (nothing written) otherwise, so a
  // fetch that raced a PutSecret or DeleteSecret leaves nothing behind.
  virtual absl::StatusOr<bool> PutDerived(const DerivedRow& row) = 0;
  virtual absl::Status IntegrityCheck() = 0;

  // Rewrap support: up to `limit` versions (any, not only the newest)
  // sealed under a term older than `newest_term`, and how many there are.
  virtual absl::StatusOr<std::vector<SecretRow>> ListOnOlderTerms(
      uint32_t newest_term, size_t limit) = 0;
  // CountOnOlderTerms counts secret versions and derived-state rows.
  virtual absl::StatusOr<uint32_t> CountOnOlderTerms(uint32_t newest_term) = 0;
  // Rewrap replaces, in one transaction, each (id, version) row whose term
  // is still `old_term` with the new term, metadata and sealed value. A row
  // deleted or pruned meanwhile is skipped. Returns how many rows changed.
  struct Rewrapped {
    std::string id;
    uint32_t version = 0;
    uint32_t old_term = 0;
    uint32_t new_term = 0;
    std::string metadata;  // with keyring_term set to new_term.
    std::string sealed_value;
  };
  virtual absl::StatusOr<uint32_t> Rewrap(
      const std::vector<Rewrapped>& rows) = 0;
  // The same for derived state: rows sealed under an older term, and
  // RewrapDerived replacing each row whose term is still `old_term` (the
  // row's `term` and `sealed_value` are the new ones).
  virtual absl::StatusOr<std::vector<DerivedRow>> ListDerivedOnOlderTerms(
      uint32_t newest_term, size_t limit) = 0;
  struct RewrappedDerived {
    DerivedRow row;
    uint32_t old_term = 0;
  };
  virtual absl::StatusOr<uint32_t> RewrapDerived(
      const std::vector<RewrappedDerived>& rows) = 0;
};

// The store's schema version, kept in meta "schema_version". A store with a
// newer version than this binary knows is refused.
inline constexpr int kStoreSchemaVersion = 3;

// VaultSchemaPlan lists vault.db's schema steps (1..kStoreSchemaVersion)
// and its version marker, for the migration runner and for backups.
const SchemaPlan& VaultSchemaPlan();

// OpenSqliteSecretStore opens (creating) `dir`/vault.db. `dir` is created
// 0700 if missing; an existing `dir` or database file (vault.db, -wal,
// -shm) that is group/world accessible or owned by another user is refused
// with FAILED_PRECONDITION saying how to fix it.
absl::StatusOr<std::unique_ptr<SecretStore>> OpenSqliteSecretStore(
    const std::string& dir);

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_SECRET_STORE_H_
