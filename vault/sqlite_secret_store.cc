#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/sqlite_db.h"
#include "common/status_macros.h"
#include "vault/secret_store.h"

namespace latchkey::vault {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS meta(
  key TEXT PRIMARY KEY,
  value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS keyring(
  term INTEGER PRIMARY KEY,
  sealed_key BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS secrets(
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  term INTEGER NOT NULL,
  metadata BLOB NOT NULL,
  sealed_value BLOB NOT NULL,
  PRIMARY KEY(id, version));
INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '1');
)sql";

SecretRow ReadSecretRow(const SqliteStatement& stmt) {
  SecretRow row;
  row.id = stmt.ColumnText(0);
  row.version = static_cast<uint32_t>(stmt.ColumnInt(1));
  row.term = static_cast<uint32_t>(stmt.ColumnInt(2));
  row.metadata = stmt.ColumnBlob(3);
  row.sealed_value = stmt.ColumnBlob(4);
  return row;
}

// SqliteSecretStore serializes all access through one connection guarded by
// a mutex; reads are a few microseconds, and the vault never opens a
// connection per request.
class SqliteSecretStore final : public SecretStore {
 public:
  explicit SqliteSecretStore(std::unique_ptr<SqliteDb> db)
      : db_(std::move(db)) {}

  absl::StatusOr<std::optional<std::string>> GetMeta(
      absl::string_view key) override {
    std::lock_guard<std::mutex> lock(mu_);
    LK_ASSIGN_OR_RETURN(SqliteStatement stmt,
                        db_->Prepare("SELECT value FROM meta WHERE key = ?"));
    stmt.Bind(1, key);
    LK_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(stmt.ColumnBlob(0));
  }

  absl::Status Initialize(absl::string_view seal_config,
                          const KeyringRow& first_term) override {
    std::lock_guard<std::mutex> lock(mu_);
    LK_RETURN_IF_ERROR(db_->Begin());
    absl::Status status = InitializeLocked(seal_config, first_term);
    if (!status.ok()) {
      db_->Rollback();
      return status;
    }
    return db_->Commit();
  }

  absl::StatusOr<std::vector<KeyringRow>> ListKeyring() override {
    std::lock_guard<std::mutex> lock(mu_);
    LK_ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        db_->Prepare("SELECT term, sealed_key FROM keyring ORDER BY term"));
    std::vector<KeyringRow> rows;
    while (true) {
      LK_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      rows.push_back({static_cast<uint32_t>(stmt.ColumnInt(0)),
                      stmt.ColumnBlob(1)});
    }
    return rows;
  }

  absl::StatusOr<uint32_t> NextVersion(absl::string_view id) override {
    std::lock_guard<std::mutex> lock(mu_);
    LK_ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        db_->Prepare("SELECT COALESCE(MAX(version), 0) FROM secrets "
                     "WHERE id = ?"));
    stmt.Bind(1, id);
    LK_ASSIGN_OR_RETURN(bool row, stmt.Step());
    return static_cast<uint32_t>((row ? stmt.ColumnInt(0) : 0) + 1);
  }

  absl::Status PutVersion(const SecretRow& row,
                          uint32_t keep_versions) override {
    std::lock_guard<std::mutex> lock(mu_);
    LK_RETURN_IF_ERROR(db_->Begin());
    absl::Status status = PutVersionLocked(row, keep_versions);
    if (!status.ok()) {
      db_->Rollback();
      return status;
    }
    return db_->Commit();
  }

  absl::StatusOr<std::optional<SecretRow>> GetLatest(
      absl::string_view id) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!get_latest_.has_value()) {
      LK_ASSIGN_OR_RETURN(
          SqliteStatement stmt,
          db_->Prepare("SELECT id, version, term, metadata, sealed_value "
                       "FROM secrets WHERE id = ? "
                       "ORDER BY version DESC LIMIT 1"));
      get_latest_.emplace(std::move(stmt));
    }
    SqliteStatement& stmt = *get_latest_;
    stmt.Bind(1, id);
    absl::StatusOr<bool> row = stmt.Step();
    std::optional<SecretRow> result;
    if (row.ok() && *row) result = ReadSecretRow(stmt);
    stmt.Reset();
    if (!row.ok()) return row.status();
    return result;
  }

  absl::StatusOr<std::vector<SecretRow>> ListLatest() override {
    std::lock_guard<std::mutex> lock(mu_);
    LK_ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        db_->Prepare("SELECT s.id, s.version, s.term, s.metadata, "
                     "s.sealed_value FROM secrets s JOIN (SELECT id, "
                     "MAX(version) AS v FROM secrets GROUP BY id) m "
                     "ON s.id = m.id AND s.version = m.v ORDER BY s.id"));
    std::vector<SecretRow> rows;
    while (true) {
      LK_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      rows.push_back(ReadSecretRow(stmt));
    }
    return rows;
  }

  absl::StatusOr<uint32_t> Delete(absl::string_view id) override {
    std::lock_guard<std::mutex> lock(mu_);
    LK_ASSIGN_OR_RETURN(SqliteStatement stmt,
                        db_->Prepare("DELETE FROM secrets WHERE id = ?"));
    stmt.Bind(1, id);
    LK_RETURN_IF_ERROR(stmt.Run());
    uint32_t deleted = static_cast<uint32_t>(db_->Changes());
    // secure_delete zeroes the freed pages; the checkpoint moves that into
    // the main file and truncates the WAL, so no old page keeps the
    // ciphertext.
    LK_RETURN_IF_ERROR(db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
    return deleted;
  }

  absl::Status IntegrityCheck() override {
    std::lock_guard<std::mutex> lock(mu_);
    return db_->IntegrityCheck();
  }

 private:
  absl::Status InitializeLocked(absl::string_view seal_config,
                                const KeyringRow& first_term) {
    LK_ASSIGN_OR_RETURN(
        SqliteStatement check,
        db_->Prepare("SELECT COUNT(*) FROM meta WHERE key = 'seal_config'"));
    LK_ASSIGN_OR_RETURN(bool row, check.Step());
    if (row && check.ColumnInt(0) != 0) {
      return absl::AlreadyExistsError("vault is already initialized");
    }
    LK_ASSIGN_OR_RETURN(
        SqliteStatement meta,
        db_->Prepare("INSERT INTO meta(key, value) VALUES('seal_config', ?)"));
    meta.BindBlob(1, seal_config);
    LK_RETURN_IF_ERROR(meta.Run());
    LK_ASSIGN_OR_RETURN(
        SqliteStatement keyring,
        db_->Prepare("INSERT INTO keyring(term, sealed_key) VALUES(?, ?)"));
    keyring.Bind(1, static_cast<int64_t>(first_term.term))
        .BindBlob(2, first_term.sealed_key);
    return keyring.Run();
  }

  absl::Status PutVersionLocked(const SecretRow& row, uint32_t keep_versions) {
    LK_ASSIGN_OR_RETURN(
        SqliteStatement insert,
        db_->Prepare("INSERT INTO secrets(id, version, term, metadata, "
                     "sealed_value) VALUES(?, ?, ?, ?, ?)"));
    insert.Bind(1, row.id)
        .Bind(2, static_cast<int64_t>(row.version))
        .Bind(3, static_cast<int64_t>(row.term))
        .BindBlob(4, row.metadata)
        .BindBlob(5, row.sealed_value);
    LK_RETURN_IF_ERROR(insert.Run());
    LK_ASSIGN_OR_RETURN(
        SqliteStatement prune,
        db_->Prepare("DELETE FROM secrets WHERE id = ? AND version <= ?"));
    prune.Bind(1, row.id).Bind(
        2, static_cast<int64_t>(row.version) - keep_versions);
    return prune.Run();
  }

  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;
  std::optional<SqliteStatement> get_latest_;  // Hot path: prepared once.
};

}  // namespace

absl::StatusOr<std::unique_ptr<SecretStore>> OpenSqliteSecretStore(
    const std::string& dir) {
  LK_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db,
                      SqliteDb::Open(dir + "/vault.db"));
  LK_RETURN_IF_ERROR(db->Exec(kSchema));
  return std::unique_ptr<SecretStore>(new SqliteSecretStore(std::move(db)));
}

}  // namespace latchkey::vault
