#include "common/schema_migrations.h"

#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace latchkey {
namespace {

// A small plan over PRAGMA user_version: v1 a table, v2 a column, v3 an
// index.
SchemaPlan TestPlan() {
  SchemaPlan plan;
  plan.database = "test.db";
  plan.binary = "latchkey-test";
  plan.steps = {
      {1, "create items", "CREATE TABLE items(id INTEGER PRIMARY KEY);"},
      {2, "add a name", "ALTER TABLE items ADD COLUMN name TEXT;"},
      {3, "index names", "CREATE INDEX items_by_name ON items(name);"},
  };
  plan.read_version = [](SqliteDb& db) -> absl::StatusOr<int> {
    auto stmt = db.Prepare("PRAGMA user_version");
    if (!stmt.ok()) return stmt.status();
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    return static_cast<int>(stmt->ColumnInt(0));
  };
  plan.write_version = [](SqliteDb& db, int version) {
    return db.Exec(absl::StrCat("PRAGMA user_version = ", version));
  };
  return plan;
}

class SchemaMigrationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lk-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)system(("rm -rf " + dir_).c_str()); }
  std::unique_ptr<SqliteDb> OpenDb() {
    auto db = SqliteDb::Open(dir_ + "/test.db");
    EXPECT_TRUE(db.ok()) << db.status();
    return std::move(*db);
  }
  int Version(SqliteDb& db) { return *TestPlan().read_version(db); }
  std::string dir_;
};

TEST_F(SchemaMigrationsTest, EmptyDatabaseGetsEveryStep) {
  auto db = OpenDb();
  auto result = MigrateSchema(*db, TestPlan());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->from_version, 0);
  EXPECT_EQ(result->to_version, 3);
  EXPECT_EQ(Version(*db), 3);
  EXPECT_TRUE(db->Exec("INSERT INTO items(name) VALUES('x')").ok());
  // Running again is a no-op.
  result = MigrateSchema(*db, TestPlan());
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->from_version, 3);
  EXPECT_EQ(result->to_version, 3);
}

TEST_F(SchemaMigrationsTest, EveryEarlierVersionReachesTheLatestKeepingRows) {
  for (int start = 1; start <= 2; ++start) {
    SCOPED_TRACE(start);
    TearDown();
    SetUp();
    auto db = OpenDb();
    SchemaPlan old_plan = TestPlan();
    old_plan.steps.resize(start);
    ASSERT_TRUE(MigrateSchema(*db, old_plan).ok());
    ASSERT_TRUE(db->Exec("INSERT INTO items(id) VALUES(7)").ok());
    auto result = MigrateSchema(*db, TestPlan());
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->from_version, start);
    EXPECT_EQ(Version(*db), 3);
    auto stmt = db->Prepare("SELECT COUNT(*) FROM items WHERE id = 7");
    ASSERT_TRUE(*stmt->Step());
    EXPECT_EQ(stmt->ColumnInt(0), 1);
  }
}

TEST_F(SchemaMigrationsTest, NewerDatabaseIsRefusedNamingBothVersions) {
  auto db = OpenDb();
  ASSERT_TRUE(MigrateSchema(*db, TestPlan()).ok());
  ASSERT_TRUE(db->Exec("PRAGMA user_version = 9").ok());
  auto result = MigrateSchema(*db, TestPlan());
  ASSERT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string message(result.status().message());
  EXPECT_NE(message.find("schema version 9"), std::string::npos) << message;
  EXPECT_NE(message.find("up to 3"), std::string::npos) << message;
  EXPECT_NE(message.find("latchkey-test"), std::string::npos) << message;
  EXPECT_EQ(Version(*db), 9);
}

TEST_F(SchemaMigrationsTest, FailedStepChangesNothing) {
  auto db = OpenDb();
  SchemaPlan v1 = TestPlan();
  v1.steps.resize(1);
  ASSERT_TRUE(MigrateSchema(*db, v1).ok());
  SchemaPlan broken = TestPlan();
  // Step 2 succeeds, step 3 fails: step 2 must be rolled back too.
  broken.steps[2].sql = "CREATE INDEX items_by_name ON no_such_table(name);";
  auto result = MigrateSchema(*db, broken);
  ASSERT_FALSE(result.ok());
  const std::string message(result.status().message());
  EXPECT_NE(message.find("schema version 3 (index names)"), std::string::npos)
      << message;
  EXPECT_NE(message.find("nothing was changed"), std::string::npos);
  EXPECT_EQ(Version(*db), 1);
  // The column from step 2 is not there.
  EXPECT_FALSE(db->Prepare("SELECT name FROM items").ok());
  // The database is still usable and migrates once the plan is fixed.
  ASSERT_TRUE(MigrateSchema(*db, TestPlan()).ok());
  EXPECT_EQ(Version(*db), 3);
}

TEST_F(SchemaMigrationsTest, MisnumberedPlanIsRefused) {
  auto db = OpenDb();
  SchemaPlan plan = TestPlan();
  plan.steps[1].version = 5;
  EXPECT_EQ(MigrateSchema(*db, plan).status().code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(Version(*db), 0);
}

}  // namespace
}  // namespace latchkey
