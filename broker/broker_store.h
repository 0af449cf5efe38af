// BrokerStore persists the broker's state in SQLite (state_dir/broker.db,
// WAL, synchronous=FULL): the configuration in force (agents and
// capabilities, whether from the file, Apply or admin RPCs), sessions,
// and revocations. Every write is committed (fsync'd) before it returns,
// so a revocation acknowledged to an operator survives a crash.
//
// Schema version 1 (table schema_version); Open migrates older versions
// and refuses a database written by a newer broker.
#ifndef LATCHKEY_BROKER_BROKER_STORE_H_
#define LATCHKEY_BROKER_BROKER_STORE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/schema_migrations.h"
#include "common/sqlite_db.h"
#include "proto/broker.pb.h"

namespace latchkey::broker {

class BrokerStore {
 public:
  static constexpr int kSchemaVersion = 1;
  // SchemaPlan lists broker.db's schema steps (1..kSchemaVersion) and its
  // version marker, for the migration runner and for backups.
  static const latchkey::SchemaPlan& SchemaPlan();

  // Open opens or creates the database at `path`.
  static absl::StatusOr<std::unique_ptr<BrokerStore>> Open(
      const std::string& path);

  struct StoredConfig {
    v1::BrokerConfig config;
    // file_sha256 is the hex SHA-256 of the config file text last applied
    // from --config (empty if the config in force came from elsewhere).
    std::string file_sha256;
  };
  // LoadConfig returns nullopt when no configuration was ever stored.
  absl::StatusOr<std::optional<StoredConfig>> LoadConfig();
  // SaveConfig replaces the stored agents and capabilities in one
  // transaction.
  absl::Status SaveConfig(const v1::BrokerConfig& config,
                          absl::string_view file_sha256);

  struct StoredSession {
    v1::Session session;
    // epoch is the revocation epoch the session was opened in.
    int64_t epoch = 0;
  };
  absl::Status PutSession(const v1::Session& session, int64_t epoch);
  // DeleteSessionsExpiredBefore removes sessions whose expire_time is
  // before `cutoff`.
  absl::Status DeleteSessionsExpiredBefore(absl::Time cutoff);
  absl::StatusOr<std::vector<StoredSession>> LoadSessions();

  struct StoredRevocation {
    v1::Revocation revocation;
    // seq: sessions with epoch < seq are revoked by it.
    int64_t seq = 0;
  };
  // PutRevocation inserts or replaces the revocation of (kind, name).
  absl::Status PutRevocation(const v1::Revocation& revocation, int64_t seq);
  absl::StatusOr<std::vector<StoredRevocation>> LoadRevocations();

 private:
  explicit BrokerStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  absl::Status Migrate();

  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;  // guarded by mu_
};

}  // namespace latchkey::broker

#endif  // LATCHKEY_BROKER_BROKER_STORE_H_
