#include <sys/stat.h>

#include <mutex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/schema_migrations.h"
#include "common/sqlite_db.h"
#include "common/state_dir.h"
#include "common/status_macros.h"
#include "vault/secret_store.h"

namespace latchkey::vault {
namespace {

// Schema version 1: the tables of the first release.
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE meta(
  key TEXT PRIMARY KEY,
  value BLOB NOT NULL);
CREATE TABLE keyring(
  term INTEGER PRIMARY KEY,
  sealed_key BLOB NOT NULL);
CREATE TABLE secrets(
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  term INTEGER NOT NULL,
  metadata BLOB NOT NULL,
  sealed_value BLOB NOT NULL,
  PRIMARY KEY(id, version));
)sql";

// Version 2: an index for the background rewrap's "older term" scans.
constexpr char kSchemaV2[] =
    "CREATE INDEX IF NOT EXISTS secrets_by_term ON secrets(term);";

// Version 3: derived state (a rotated OAuth2 refresh token), sealed per
// secret version like the values themselves.
constexpr char kSchemaV3[] = R"sql(
CREATE TABLE IF NOT EXISTS derived_state(
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  term INTEGER NOT NULL,
  sealed_value BLOB NOT NULL,
  PRIMARY KEY(id, version, name));
CREATE INDEX IF NOT EXISTS derived_state_by_term ON derived_state(term);
)sql";

// The version marker is meta "schema_version" (text), as released: 0 for an
// empty database, 1 for the v1 tables without a marker.
absl::StatusOr<int> ReadStoreVersion(SqliteDb& db) {
  LK_ASSIGN_OR_RETURN(bool has_meta, HasTable(db, "meta"));
  if (!has_meta) {
    LK_ASSIGN_OR_RETURN(bool has_secrets, HasTable(db, "secrets"));
    return has_secrets ? 1 : 0;
  }
  LK_ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      db.Prepare("SELECT value FROM meta WHERE key = 'schema_version'"));
  LK_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return 1;
  int version = 0;
  if (!absl::SimpleAtoi(stmt.ColumnText(0), &version)) {
    return absl::DataLossError("vault.db has no readable schema_version");
  }
  return version;
}

absl::Status WriteStoreVersion(SqliteDb& db, int version) {
  LK_ASSIGN_OR_RETURN(SqliteStatement stmt,
                      db.Prepare("INSERT OR REPLACE INTO meta(key, value) "
                                 "VALUES('schema_version', ?)"));
  stmt.Bind(1, std::to_string(version));
  return stmt.Run();
}

DerivedRow ReadDerivedRow(const SqliteStatement& stmt) {
  DerivedRow row;
  row.id = stmt.ColumnText(0);
  row.version = static_cast<uint32_t>(stmt.ColumnInt(1));
  row.name = stmt.ColumnText(2);
  row.term = static_cast<uint32_t>(stmt.ColumnInt(3));
  row.sealed_value = stmt.ColumnBlob(4);
  return row;
}

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

  absl::Status Initialize(const std::map<std::string, std::string>& meta,
                          const KeyringRow& first_term) override {
    std::lock_guard<std::mutex> lock(mu_);
    LK_RETURN_IF_ERROR(db_->Begin());
    absl::Status status = InitializeLocked(meta, first_term);
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
      rows.push_back(
          {static_cast<uint32_t>(stmt.ColumnInt(0)), stmt.ColumnBlob(1)});
    }
    return rows;
  }

  absl::Status AddKeyringTerm(const KeyringRow& row) override {
    std::lock_guard<std::mutex> lock(mu_);
    LK_ASSIGN_OR_RETURN(
        SqliteStatement insert,
        db_->Prepare("INSERT INTO keyring(term, sealed_key) VALUES(?, ?)"));
    insert.Bind(1, static_cast<int64_t>(row.term)).BindBlob(2, row.sealed_key);
    return insert.Run();
  }

  absl::Status ReplaceSealMaterial(
      const std::map<std::string, std::string>& meta,
      const std::vector<std::string>& delete_meta,
      const std::vector<KeyringRow>& keyring) override {
    std::lock_guard<std::mutex> lock(mu_);
    LK_RETURN_IF_ERROR(db_->Begin());
    absl::Status status = ReplaceSealMaterialLocked(meta, delete_meta, keyring);
    if (!status.ok()) {
      db_->Rollback();
      return status;
    }
    return db_->Commit();
  }

  absl::StatusOr<std::vector<SecretRow>> ListOnOlderTerms(
      uint32_t newest_term, size_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    LK_ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        db_->Prepare("SELECT id, version, term, metadata, sealed_value "
                     "FROM secrets WHERE term < ? ORDER BY term, id, version "
                     "LIMIT ?"));
    stmt.Bind(1, static_cast<int64_t>(newest_term))
        .Bind(2, static_cast<int64_t>(limit));
    std::vector<SecretRow> rows;
    while (true) {
      LK_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      rows.push_back(ReadSecretRow(stmt));
    }
    return rows;
  }

  absl::StatusOr<uint32_t> CountOnOlderTerms(uint32_t newest_term) override {
    std::lock_guard<std::mutex> lock(mu_);
    LK_ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        db_->Prepare("SELECT (SELECT COUNT(*) FROM secrets WHERE term < ?) + "
                     "(SELECT COUNT(*) FROM derived_state WHERE term < ?)"));
    stmt.Bind(1, static_cast<int64_t>(newest_term))
        .Bind(2, static_cast<int64_t>(newest_term));
    LK_ASSIGN_OR_RETURN(bool row, stmt.Step());
    return static_cast<uint32_t>(row ? stmt.ColumnInt(0) : 0);
  }

  absl::StatusOr<uint32_t> Rewrap(const std::vector<Rewrapped>& rows) override {
    std::lock_guard<std::mutex> lock(mu_);
    LK_RETURN_IF_ERROR(db_->Begin());
    uint32_t changed = 0;
    absl::Status status = RewrapLocked(rows, &changed);
    if (!status.ok()) {
      db_->Rollback();
      return status;
    }
    LK_RETURN_IF_ERROR(db_->Commit());
    return changed;
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
    LK_RETURN_IF_ERROR(db_->Begin());
    uint32_t deleted = 0;
    absl::Status status = DeleteLocked(id, &deleted);
    if (!status.ok()) {
      db_->Rollback();
      return status;
    }
    LK_RETURN_IF_ERROR(db_->Commit());
    // secure_delete zeroes the freed pages; the checkpoint moves that into
    // the main file and truncates the WAL, so no old page keeps the
    // ciphertext.
    LK_RETURN_IF_ERROR(db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
    return deleted;
  }

  absl::StatusOr<std::optional<DerivedRow>> GetDerived(
      absl::string_view id, uint32_t version, absl::string_view name) override {
    std::lock_guard<std::mutex> lock(mu_);
    LK_ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        db_->Prepare("SELECT id, version, name, term, sealed_value FROM "
                     "derived_state WHERE id = ? AND version = ? AND "
                     "name = ?"));
    stmt.Bind(1, id).Bind(2, static_cast<int64_t>(version)).Bind(3, name);
    LK_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<DerivedRow>();
    return std::optional<DerivedRow>(ReadDerivedRow(stmt));
  }

  absl::StatusOr<bool> PutDerived(const DerivedRow& row) override {
    std::lock_guard<std::mutex> lock(mu_);
    LK_ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        db_->Prepare("INSERT OR REPLACE INTO derived_state(id, version, name, "
                     "term, sealed_value) SELECT ?, ?, ?, ?, ? WHERE ? = "
                     "(SELECT MAX(version) FROM secrets WHERE id = ?)"));
    stmt.Bind(1, row.id)
        .Bind(2, static_cast<int64_t>(row.version))
        .Bind(3, row.name)
        .Bind(4, static_cast<int64_t>(row.term))
        .BindBlob(5, row.sealed_value)
        .Bind(6, static_cast<int64_t>(row.version))
        .Bind(7, row.id);
    LK_RETURN_IF_ERROR(stmt.Run());
    return db_->Changes() > 0;
  }

  absl::StatusOr<std::vector<DerivedRow>> ListDerivedOnOlderTerms(
      uint32_t newest_term, size_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    LK_ASSIGN_OR_RETURN(
        SqliteStatement stmt,
        db_->Prepare("SELECT id, version, name, term, sealed_value FROM "
                     "derived_state WHERE term < ? ORDER BY term, id, "
                     "version, name LIMIT ?"));
    stmt.Bind(1, static_cast<int64_t>(newest_term))
        .Bind(2, static_cast<int64_t>(limit));
    std::vector<DerivedRow> rows;
    while (true) {
      LK_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      rows.push_back(ReadDerivedRow(stmt));
    }
    return rows;
  }

  absl::StatusOr<uint32_t> RewrapDerived(
      const std::vector<RewrappedDerived>& rows) override {
    std::lock_guard<std::mutex> lock(mu_);
    LK_RETURN_IF_ERROR(db_->Begin());
    uint32_t changed = 0;
    absl::Status status = RewrapDerivedLocked(rows, &changed);
    if (!status.ok()) {
      db_->Rollback();
      return status;
    }
    LK_RETURN_IF_ERROR(db_->Commit());
    return changed;
  }

  absl::Status IntegrityCheck() override {
    std::lock_guard<std::mutex> lock(mu_);
    return db_->IntegrityCheck();
  }

 private:
  absl::Status DeleteLocked(absl::string_view id, uint32_t* deleted) {
    LK_ASSIGN_OR_RETURN(SqliteStatement stmt,
                        db_->Prepare("DELETE FROM secrets WHERE id = ?"));
    stmt.Bind(1, id);
    LK_RETURN_IF_ERROR(stmt.Run());
    *deleted = static_cast<uint32_t>(db_->Changes());
    LK_ASSIGN_OR_RETURN(SqliteStatement derived,
                        db_->Prepare("DELETE FROM derived_state WHERE id = ?"));
    derived.Bind(1, id);
    return derived.Run();
  }

  absl::Status RewrapDerivedLocked(const std::vector<RewrappedDerived>& rows,
                                   uint32_t* changed) {
    LK_ASSIGN_OR_RETURN(
        SqliteStatement update,
        db_->Prepare("UPDATE derived_state SET term = ?, sealed_value = ? "
                     "WHERE id = ? AND version = ? AND name = ? AND "
                     "term = ?"));
    for (const RewrappedDerived& r : rows) {
      update.Bind(1, static_cast<int64_t>(r.row.term))
          .BindBlob(2, r.row.sealed_value)
          .Bind(3, r.row.id)
          .Bind(4, static_cast<int64_t>(r.row.version))
          .Bind(5, r.row.name)
          .Bind(6, static_cast<int64_t>(r.old_term));
      LK_RETURN_IF_ERROR(update.Run());
      *changed += static_cast<uint32_t>(db_->Changes());
    }
    return absl::OkStatus();
  }

  absl::Status RewrapLocked(const std::vector<Rewrapped>& rows,
                            uint32_t* changed) {
    LK_ASSIGN_OR_RETURN(
        SqliteStatement update,
        db_->Prepare("UPDATE secrets SET term = ?, metadata = ?, "
                     "sealed_value = ? WHERE id = ? AND version = ? AND "
                     "term = ?"));
    for (const Rewrapped& row : rows) {
      update.Bind(1, static_cast<int64_t>(row.new_term))
          .BindBlob(2, row.metadata)
          .BindBlob(3, row.sealed_value)
          .Bind(4, row.id)
          .Bind(5, static_cast<int64_t>(row.version))
          .Bind(6, static_cast<int64_t>(row.old_term));
      LK_RETURN_IF_ERROR(update.Run());
      *changed += static_cast<uint32_t>(db_->Changes());
    }
    return absl::OkStatus();
  }

  absl::Status UpsertMetaLocked(
      const std::map<std::string, std::string>& meta) {
    LK_ASSIGN_OR_RETURN(
        SqliteStatement upsert,
        db_->Prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)"));
    for (const auto& [key, value] : meta) {
      upsert.Bind(1, key).BindBlob(2, value);
      LK_RETURN_IF_ERROR(upsert.Run());
    }
    return absl::OkStatus();
  }

  absl::Status ReplaceSealMaterialLocked(
      const std::map<std::string, std::string>& meta,
      const std::vector<std::string>& delete_meta,
      const std::vector<KeyringRow>& keyring) {
    LK_RETURN_IF_ERROR(UpsertMetaLocked(meta));
    LK_ASSIGN_OR_RETURN(SqliteStatement remove,
                        db_->Prepare("DELETE FROM meta WHERE key = ?"));
    for (const std::string& key : delete_meta) {
      remove.Bind(1, key);
      LK_RETURN_IF_ERROR(remove.Run());
    }
    LK_ASSIGN_OR_RETURN(
        SqliteStatement update,
        db_->Prepare("UPDATE keyring SET sealed_key = ? WHERE term = ?"));
    for (const KeyringRow& row : keyring) {
      update.BindBlob(1, row.sealed_key)
          .Bind(2, static_cast<int64_t>(row.term));
      LK_RETURN_IF_ERROR(update.Run());
      if (db_->Changes() != 1) {
        return absl::AbortedError(
            absl::StrCat("keyring changed during rekey (term ", row.term, ")"));
      }
    }
    LK_ASSIGN_OR_RETURN(SqliteStatement count,
                        db_->Prepare("SELECT COUNT(*) FROM keyring"));
    LK_ASSIGN_OR_RETURN(bool row, count.Step());
    if (!row || count.ColumnInt(0) != static_cast<int64_t>(keyring.size())) {
      return absl::AbortedError("keyring changed during rekey");
    }
    return absl::OkStatus();
  }

  absl::Status InitializeLocked(const std::map<std::string, std::string>& meta,
                                const KeyringRow& first_term) {
    LK_ASSIGN_OR_RETURN(
        SqliteStatement check,
        db_->Prepare("SELECT COUNT(*) FROM meta WHERE key = 'seal_config'"));
    LK_ASSIGN_OR_RETURN(bool row, check.Step());
    if (row && check.ColumnInt(0) != 0) {
      return absl::AlreadyExistsError("vault is already initialized");
    }
    if (meta.count("seal_config") == 0) {
      return absl::InternalError("Initialize needs a seal_config");
    }
    LK_RETURN_IF_ERROR(UpsertMetaLocked(meta));
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
    LK_RETURN_IF_ERROR(prune.Run());
    // A new version starts from its own value: what older versions derived
    // (a rotated refresh token) no longer applies.
    LK_ASSIGN_OR_RETURN(
        SqliteStatement drop,
        db_->Prepare("DELETE FROM derived_state WHERE id = ? AND "
                     "version < ?"));
    drop.Bind(1, row.id).Bind(2, static_cast<int64_t>(row.version));
    return drop.Run();
  }

  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;
  std::optional<SqliteStatement> get_latest_;  // Hot path: prepared once.
};

}  // namespace

const SchemaPlan& VaultSchemaPlan() {
  static const SchemaPlan* plan = new SchemaPlan{
      "vault.db",
      "latchkey-vault",
      {{1, "create the meta, keyring and secrets tables", kSchemaV1},
       {2, "index secrets by keyring term for rewrap", kSchemaV2},
       {3, "add the derived_state table (rotated refresh tokens)", kSchemaV3}},
      ReadStoreVersion,
      WriteStoreVersion};
  return *plan;
}

absl::StatusOr<std::unique_ptr<SecretStore>> OpenSqliteSecretStore(
    const std::string& dir) {
  LK_RETURN_IF_ERROR(EnsurePrivateDirectory(dir));
  const std::string path = dir + "/vault.db";
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const std::string file = path + suffix;
    struct stat st;
    if (::lstat(file.c_str(), &st) != 0) continue;  // not created yet
    if (!S_ISREG(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(file, " is not a regular file; refusing to open it"));
    }
    LK_RETURN_IF_ERROR(CheckPrivateFile(file));
  }
  LK_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path));
  LK_RETURN_IF_ERROR(MigrateSchema(*db, VaultSchemaPlan()).status());
  return std::unique_ptr<SecretStore>(new SqliteSecretStore(std::move(db)));
}

}  // namespace latchkey::vault
