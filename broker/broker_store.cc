#include "broker/broker_store.h"

#include "absl/strings/str_cat.h"
#include "common/schema_migrations.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"

namespace latchkey::broker {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kSchemaV1[] = R"sql(
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS agents (
  name TEXT PRIMARY KEY,
  position INTEGER NOT NULL,
  proto BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS capabilities (
  name TEXT PRIMARY KEY,
  position INTEGER NOT NULL,
  proto BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  agent TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  expire_unix_ns INTEGER NOT NULL,
  revoked INTEGER NOT NULL,
  proto BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expire_unix_ns);
CREATE TABLE IF NOT EXISTS revocations (
  kind INTEGER NOT NULL,
  name TEXT NOT NULL,
  seq INTEGER NOT NULL,
  active INTEGER NOT NULL,
  proto BLOB NOT NULL,
  PRIMARY KEY (kind, name)
);
)sql";

// Transaction commits on Commit() or rolls back when destroyed.
class Transaction {
 public:
  explicit Transaction(SqliteDb* db) : db_(db) {}
  ~Transaction() {
    if (open_) db_->Rollback();
  }
  absl::Status Begin() {
    LK_RETURN_IF_ERROR(db_->Begin());
    open_ = true;
    return absl::OkStatus();
  }
  absl::Status Commit() {
    LK_RETURN_IF_ERROR(db_->Commit());
    open_ = false;
    return absl::OkStatus();
  }

 private:
  SqliteDb* db_;
  bool open_ = false;
};

template <typename Message>
absl::StatusOr<Message> ParseBlob(const std::string& blob,
                                  absl::string_view what) {
  Message message;
  if (!message.ParseFromString(blob)) {
    return absl::DataLossError(absl::StrCat("broker.db: corrupt ", what));
  }
  return message;
}

// The version marker is the table schema_version, as released; a database
// with the v1 tables but no marker is version 1.
absl::StatusOr<int> ReadSchemaVersion(SqliteDb& db) {
  LK_ASSIGN_OR_RETURN(bool has_marker, HasTable(db, "schema_version"));
  if (has_marker) {
    LK_ASSIGN_OR_RETURN(
        SqliteStatement select,
        db.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_version"));
    LK_ASSIGN_OR_RETURN(bool row, select.Step());
    int64_t version = row ? select.ColumnInt(0) : 0;
    if (version > 0) return static_cast<int>(version);
  }
  LK_ASSIGN_OR_RETURN(bool has_v1_tables, HasTable(db, "sessions"));
  return has_v1_tables ? 1 : 0;
}

absl::Status WriteSchemaVersion(SqliteDb& db, int version) {
  LK_RETURN_IF_ERROR(db.Exec(
      "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"
      "DELETE FROM schema_version"));
  LK_ASSIGN_OR_RETURN(
      SqliteStatement insert,
      db.Prepare("INSERT INTO schema_version (version) VALUES (?)"));
  insert.Bind(1, static_cast<int64_t>(version));
  return insert.Run();
}

}  // namespace

absl::StatusOr<std::unique_ptr<BrokerStore>> BrokerStore::Open(
    const std::string& path) {
  LK_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path));
  std::unique_ptr<BrokerStore> store(new BrokerStore(std::move(db)));
  LK_RETURN_IF_ERROR(store->Migrate());
  return store;
}

absl::Status BrokerStore::Migrate() {
  std::lock_guard<std::mutex> lock(mu_);
  return MigrateSchema(*db_, SchemaPlan()).status();
}

const latchkey::SchemaPlan& BrokerStore::SchemaPlan() {
  static const latchkey::SchemaPlan* plan = new latchkey::SchemaPlan{
      "broker.db",
      "latchkey-broker",
      {{1, "create the agents, capabilities, sessions and revocations tables",
        kSchemaV1}},
      ReadSchemaVersion,
      WriteSchemaVersion};
  return *plan;
}

absl::StatusOr<std::optional<BrokerStore::StoredConfig>>
BrokerStore::LoadConfig() {
  std::lock_guard<std::mutex> lock(mu_);
  StoredConfig stored;
  bool configured = false;
  {
    LK_ASSIGN_OR_RETURN(SqliteStatement meta,
                        db_->Prepare("SELECT key, value FROM meta"));
    while (true) {
      LK_ASSIGN_OR_RETURN(bool row, meta.Step());
      if (!row) break;
      std::string key = meta.ColumnText(0);
      if (key == "configured") configured = true;
      if (key == "config_file_sha256") stored.file_sha256 = meta.ColumnText(1);
    }
  }
  if (!configured) return std::nullopt;
  {
    LK_ASSIGN_OR_RETURN(
        SqliteStatement agents,
        db_->Prepare("SELECT proto FROM agents ORDER BY position"));
    while (true) {
      LK_ASSIGN_OR_RETURN(bool row, agents.Step());
      if (!row) break;
      LK_ASSIGN_OR_RETURN(*stored.config.add_agents(),
                          ParseBlob<v1::Agent>(agents.ColumnBlob(0), "agent"));
    }
  }
  {
    LK_ASSIGN_OR_RETURN(
        SqliteStatement caps,
        db_->Prepare("SELECT proto FROM capabilities ORDER BY position"));
    while (true) {
      LK_ASSIGN_OR_RETURN(bool row, caps.Step());
      if (!row) break;
      LK_ASSIGN_OR_RETURN(
          *stored.config.add_capabilities(),
          ParseBlob<v1::Capability>(caps.ColumnBlob(0), "capability"));
    }
  }
  return stored;
}

absl::Status BrokerStore::SaveConfig(const v1::BrokerConfig& config,
                                     absl::string_view file_sha256) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(db_.get());
  LK_RETURN_IF_ERROR(tx.Begin());
  LK_RETURN_IF_ERROR(db_->Exec("DELETE FROM agents; DELETE FROM capabilities"));
  {
    LK_ASSIGN_OR_RETURN(
        SqliteStatement insert,
        db_->Prepare(
            "INSERT INTO agents (name, position, proto) VALUES (?, ?, ?)"));
    for (int i = 0; i < config.agents_size(); ++i) {
      insert.Bind(1, config.agents(i).name())
          .Bind(2, int64_t{i})
          .BindBlob(3, config.agents(i).SerializeAsString());
      LK_RETURN_IF_ERROR(insert.Run());
    }
  }
  {
    LK_ASSIGN_OR_RETURN(SqliteStatement insert,
                        db_->Prepare("INSERT INTO capabilities (name, "
                                     "position, proto) VALUES (?, ?, ?)"));
    for (int i = 0; i < config.capabilities_size(); ++i) {
      insert.Bind(1, config.capabilities(i).name())
          .Bind(2, int64_t{i})
          .BindBlob(3, config.capabilities(i).SerializeAsString());
      LK_RETURN_IF_ERROR(insert.Run());
    }
  }
  {
    LK_ASSIGN_OR_RETURN(
        SqliteStatement meta,
        db_->Prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"));
    meta.Bind(1, "configured").Bind(2, "1");
    LK_RETURN_IF_ERROR(meta.Run());
    meta.Bind(1, "config_file_sha256").Bind(2, file_sha256);
    LK_RETURN_IF_ERROR(meta.Run());
  }
  return tx.Commit();
}

absl::Status BrokerStore::PutSession(const v1::Session& session,
                                     int64_t epoch) {
  std::lock_guard<std::mutex> lock(mu_);
  LK_ASSIGN_OR_RETURN(
      SqliteStatement insert,
      db_->Prepare(
          "INSERT OR REPLACE INTO sessions (id, agent, epoch, "
          "expire_unix_ns, revoked, proto) VALUES (?, ?, ?, ?, ?, ?)"));
  insert.Bind(1, session.id())
      .Bind(2, session.agent())
      .Bind(3, epoch)
      .Bind(4, TimeUtil::TimestampToNanoseconds(session.expire_time()))
      .Bind(5, int64_t{session.revoked() ? 1 : 0})
      .BindBlob(6, session.SerializeAsString());
  return insert.Run();
}

absl::Status BrokerStore::DeleteSessionsExpiredBefore(absl::Time cutoff) {
  std::lock_guard<std::mutex> lock(mu_);
  LK_ASSIGN_OR_RETURN(
      SqliteStatement remove,
      db_->Prepare("DELETE FROM sessions WHERE expire_unix_ns < ?"));
  remove.Bind(1, absl::ToUnixNanos(cutoff));
  return remove.Run();
}

absl::StatusOr<std::vector<BrokerStore::StoredSession>>
BrokerStore::LoadSessions() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<StoredSession> out;
  LK_ASSIGN_OR_RETURN(SqliteStatement select,
                      db_->Prepare("SELECT proto, epoch FROM sessions"));
  while (true) {
    LK_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    StoredSession stored;
    LK_ASSIGN_OR_RETURN(stored.session, ParseBlob<v1::Session>(
                                            select.ColumnBlob(0), "session"));
    stored.epoch = select.ColumnInt(1);
    out.push_back(std::move(stored));
  }
  return out;
}

absl::Status BrokerStore::PutRevocation(const v1::Revocation& revocation,
                                        int64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  LK_ASSIGN_OR_RETURN(
      SqliteStatement insert,
      db_->Prepare("INSERT OR REPLACE INTO revocations (kind, name, seq, "
                   "active, proto) VALUES (?, ?, ?, ?, ?)"));
  insert.Bind(1, int64_t{revocation.kind()})
      .Bind(2, revocation.name())
      .Bind(3, seq)
      .Bind(4, int64_t{revocation.active() ? 1 : 0})
      .BindBlob(5, revocation.SerializeAsString());
  return insert.Run();
}

absl::StatusOr<std::vector<BrokerStore::StoredRevocation>>
BrokerStore::LoadRevocations() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<StoredRevocation> out;
  LK_ASSIGN_OR_RETURN(
      SqliteStatement select,
      db_->Prepare("SELECT proto, seq FROM revocations ORDER BY seq"));
  while (true) {
    LK_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    StoredRevocation stored;
    LK_ASSIGN_OR_RETURN(
        stored.revocation,
        ParseBlob<v1::Revocation>(select.ColumnBlob(0), "revocation"));
    stored.seq = select.ColumnInt(1);
    out.push_back(std::move(stored));
  }
  return out;
}

}  // namespace latchkey::broker
