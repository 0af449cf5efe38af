#include "common/schema_migrations.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace latchkey {
namespace {

absl::Status CheckPlan(const SchemaPlan& plan) {
  if (!plan.read_version || !plan.write_version) {
    return absl::InternalError(
        absl::StrCat(plan.database, ": schema plan without a version marker"));
  }
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    if (plan.steps[i].version != static_cast<int>(i) + 1) {
      return absl::InternalError(absl::StrCat(
          plan.database, ": schema steps must be numbered 1, 2, 3, ...; step ",
          i + 1, " says ", plan.steps[i].version));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<MigrationResult> MigrateLocked(SqliteDb& db,
                                              const SchemaPlan& plan) {
  LK_ASSIGN_OR_RETURN(int version, plan.read_version(db));
  const int current = plan.current_version();
  if (version > current) {
    return absl::FailedPreconditionError(absl::StrCat(
        plan.database, " has schema version ", version, " but this ",
        plan.binary, " knows versions up to ", current,
        "; it was written by a newer ", plan.binary,
        ": run that version (or newer), or restore a backup taken by this "
        "one"));
  }
  if (version < 0) {
    return absl::DataLossError(absl::StrCat(
        plan.database, " has an invalid schema version ", version));
  }
  MigrationResult result{version, version};
  for (const SchemaStep& step : plan.steps) {
    if (step.version <= version) continue;
    const std::string savepoint = absl::StrCat("migrate_to_", step.version);
    LK_RETURN_IF_ERROR(db.Exec("SAVEPOINT " + savepoint));
    absl::Status status = db.Exec(step.sql);
    if (status.ok()) status = plan.write_version(db, step.version);
    if (!status.ok()) {
      return absl::Status(
          status.code(),
          absl::StrCat(plan.database, ": migration to schema version ",
                       step.version, " (", step.what,
                       ") failed, nothing was changed: ", status.message(),
                       "; keep running the previous ", plan.binary,
                       " and report this"));
    }
    LK_RETURN_IF_ERROR(db.Exec("RELEASE " + savepoint));
    result.to_version = step.version;
  }
  return result;
}

}  // namespace

absl::StatusOr<bool> HasTable(SqliteDb& db, const std::string& name) {
  LK_ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      db.Prepare("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' "
                 "AND name = ?"));
  stmt.Bind(1, name);
  LK_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row && stmt.ColumnInt(0) > 0;
}

absl::StatusOr<MigrationResult> MigrateSchema(SqliteDb& db,
                                              const SchemaPlan& plan) {
  LK_RETURN_IF_ERROR(CheckPlan(plan));
  LK_RETURN_IF_ERROR(db.Begin());
  absl::StatusOr<MigrationResult> result = MigrateLocked(db, plan);
  if (!result.ok()) {
    db.Rollback();
    return result.status();
  }
  if (result->from_version == result->to_version) {
    db.Rollback();  // Nothing was written; no need for a commit's fsync.
    return result;
  }
  LK_RETURN_IF_ERROR(db.Commit());
  if (result->from_version != 0) {
    LogInfo("schema_migrated", {{"database", plan.database},
                                {"from", std::to_string(result->from_version)},
                                {"to", std::to_string(result->to_version)}});
  }
  return result;
}

}  // namespace latchkey
