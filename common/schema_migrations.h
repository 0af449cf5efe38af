// MigrateSchema brings a SQLite store up to the schema this binary knows,
// one forward step at a time, at start. Every store (vault.db, broker.db)
// describes itself with a SchemaPlan: its ordered steps and where it keeps
// its version marker (each store kept its own marker before this runner
// existed, and released databases must keep opening).
//
// All pending steps run inside one BEGIN IMMEDIATE transaction, each step in
// its own SAVEPOINT, so a failed step leaves the database exactly as it was
// (SQLite DDL is transactional) and the daemon refuses to start with an
// error naming the step. A database newer than the binary is refused with
// both versions named, before anything is written.
#ifndef LATCHKEY_COMMON_SCHEMA_MIGRATIONS_H_
#define LATCHKEY_COMMON_SCHEMA_MIGRATIONS_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/sqlite_db.h"

namespace latchkey {

struct SchemaStep {
  // version is the schema version this step produces (1 creates the tables
  // of a new database). Steps are listed in order: 1, 2, 3, ...
  int version = 0;
  // what says in a few words why the step exists (logged, and named in
  // the error if it fails).
  std::string what;
  // sql is the forward step (without BEGIN/COMMIT; the runner owns those).
  std::string sql;
};

struct SchemaPlan {
  // database names the store in messages, e.g. "vault.db".
  std::string database;
  // binary names the program that owns it, e.g. "latchkey-vault".
  std::string binary;
  std::vector<SchemaStep> steps;
  // read_version returns the version of the open database: 0 for an empty
  // database (no tables yet). Runs inside the runner's transaction.
  std::function<absl::StatusOr<int>(SqliteDb&)> read_version;
  // write_version records `version` (inside the same transaction).
  std::function<absl::Status(SqliteDb&, int version)> write_version;

  int current_version() const {
    return steps.empty() ? 0 : steps.back().version;
  }
};

struct MigrationResult {
  int from_version = 0;
  int to_version = 0;
};

// MigrateSchema runs the steps after the database's version. Errors:
// FAILED_PRECONDITION for a database newer than the plan (nothing changed),
// the failing step's status (with its version and `what`) when a step fails
// (nothing changed), INTERNAL for a malformed plan.
absl::StatusOr<MigrationResult> MigrateSchema(SqliteDb& db,
                                              const SchemaPlan& plan);

// HasTable says whether the database has a table called `name`; plans use
// it to tell an empty database from one with an older marker.
absl::StatusOr<bool> HasTable(SqliteDb& db, const std::string& name);

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_SCHEMA_MIGRATIONS_H_
