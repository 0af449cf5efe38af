// SecretStore is where the vault keeps sealed rows: the keyring (data keys
// sealed by the root key) and every secret version (value sealed by a data
// key). It never sees a plaintext key or secret. SQLite is the embedded
// backend; a PostgreSQL backend would implement the same interface.
#ifndef LATCHKEY_VAULT_SECRET_STORE_H_
#define LATCHKEY_VAULT_SECRET_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace latchkey::vault {

struct KeyringRow {
  uint32_t term = 0;
  std::string sealed_key;  // AES-GCM of the data key under the root key.
};

struct SecretRow {
  std::string id;
  uint32_t version = 0;
  uint32_t term = 0;          // keyring term that sealed the value.
  std::string metadata;       // serialized v1::SecretMetadata (authenticated).
  std::string sealed_value;   // AES-GCM of the value under the data key.
};

class SecretStore {
 public:
  virtual ~SecretStore() = default;

  // Meta holds small settings such as the seal configuration.
  virtual absl::StatusOr<std::optional<std::string>> GetMeta(
      absl::string_view key) = 0;
  // Initialize writes the seal configuration and the first keyring term in
  // one transaction; it fails if the store is already initialized.
  virtual absl::Status Initialize(absl::string_view seal_config,
                                  const KeyringRow& first_term) = 0;
  virtual absl::StatusOr<std::vector<KeyringRow>> ListKeyring() = 0;

  // NextVersion is one more than the newest version of `id` (1 if none).
  virtual absl::StatusOr<uint32_t> NextVersion(absl::string_view id) = 0;
  // PutVersion inserts `row` and destroys versions older than the newest
  // `keep_versions`, in one transaction.
  virtual absl::Status PutVersion(const SecretRow& row,
                                  uint32_t keep_versions) = 0;
  virtual absl::StatusOr<std::optional<SecretRow>> GetLatest(
      absl::string_view id) = 0;
  // ListLatest returns the newest version of every secret, by id.
  virtual absl::StatusOr<std::vector<SecretRow>> ListLatest() = 0;
  // Delete destroys every version of `id` and returns how many there were.
  virtual absl::StatusOr<uint32_t> Delete(absl::string_view id) = 0;
  virtual absl::Status IntegrityCheck() = 0;
};

// OpenSqliteSecretStore opens (creating) `dir`/vault.db. `dir` must exist.
absl::StatusOr<std::unique_ptr<SecretStore>> OpenSqliteSecretStore(
    const std::string& dir);

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_SECRET_STORE_H_
