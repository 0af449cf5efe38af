// A thin RAII layer over the SQLite C API: one connection, prepared
// statements, errors as absl::Status. Used by every SQLite-backed store.
#ifndef LATCHKEY_COMMON_SQLITE_DB_H_
#define LATCHKEY_COMMON_SQLITE_DB_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace latchkey {

class SqliteStatement {
 public:
  SqliteStatement(SqliteStatement&& other) noexcept;
  ~SqliteStatement();

  SqliteStatement& Bind(int index, absl::string_view text);
  SqliteStatement& BindBlob(int index, absl::string_view bytes);
  SqliteStatement& Bind(int index, int64_t value);
  // Step returns true while a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Run steps to completion (for statements without result rows).
  absl::Status Run();
  // Reset makes the statement reusable, clearing bindings.
  void Reset();

  int64_t ColumnInt(int column) const;
  std::string ColumnText(int column) const;
  std::string ColumnBlob(int column) const;

 private:
  friend class SqliteDb;
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class SqliteDb {
 public:
  // Open opens (creating 0600) a database in WAL mode with
  // synchronous=FULL, so a committed transaction survives power loss.
  static absl::StatusOr<std::unique_ptr<SqliteDb>> Open(
      const std::string& path);
  ~SqliteDb();

  absl::Status Exec(absl::string_view sql);
  absl::StatusOr<SqliteStatement> Prepare(absl::string_view sql);
  absl::Status Begin() { return Exec("BEGIN IMMEDIATE"); }
  absl::Status Commit() { return Exec("COMMIT"); }
  void Rollback() { (void)Exec("ROLLBACK"); }
  // IntegrityCheck runs PRAGMA integrity_check.
  absl::Status IntegrityCheck();
  int64_t Changes() const { return sqlite3_changes(db_); }

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_SQLITE_DB_H_
