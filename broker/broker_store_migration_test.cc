// Every released broker.db schema (testdata/schema_vN.sql, one per release)
// must open with this binary, migrate to kSchemaVersion and keep its
// configuration, sessions and revocations; a newer one must be refused.
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"
#include "broker/broker_store.h"
#include "common/sqlite_db.h"
#include "gtest/gtest.h"

namespace latchkey::broker {
namespace {

std::string Fixture(int version) {
  const std::string path =
      absl::StrCat(getenv("TEST_SRCDIR"), "/latchkey/broker/testdata/schema_v",
                   version, ".sql");
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "missing fixture " << path
                         << ": every released schema version needs one";
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class BrokerStoreMigrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lk-mig-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    path_ = std::string(tmpl) + "/broker.db";
  }
  void TearDown() override {
    (void)system(("rm -rf " + path_.substr(0, path_.rfind('/'))).c_str());
  }
  void Exec(const std::string& sql) {
    auto db = SqliteDb::Open(path_);
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)->Exec(sql).ok());
  }
  int64_t Version() {
    auto db = SqliteDb::Open(path_);
    auto stmt = (*db)->Prepare("SELECT MAX(version) FROM schema_version");
    EXPECT_TRUE(stmt.ok());
    return *stmt->Step() ? stmt->ColumnInt(0) : -1;
  }
  void ExpectFixtureData() {
    auto store = BrokerStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    auto config = (*store)->LoadConfig();
    ASSERT_TRUE(config.ok() && config->has_value());
    EXPECT_EQ((*config)->config.agents(0).name(), "ci-bot");
    EXPECT_EQ((*config)->config.capabilities(0).name(), "github-read");
    auto sessions = (*store)->LoadSessions();
    ASSERT_TRUE(sessions.ok());
    ASSERT_EQ(sessions->size(), 1u);
    EXPECT_EQ((*sessions)[0].session.id(), "s1");
    EXPECT_EQ((*sessions)[0].epoch, 3);
    auto revocations = (*store)->LoadRevocations();
    ASSERT_TRUE(revocations.ok());
    ASSERT_EQ(revocations->size(), 1u);
    EXPECT_EQ((*revocations)[0].revocation.name(), "old-bot");
    EXPECT_EQ((*revocations)[0].seq, 4);
  }
  std::string path_;
};

TEST_F(BrokerStoreMigrationTest, PlanMatchesTheDeclaredVersion) {
  EXPECT_EQ(BrokerStore::SchemaPlan().current_version(),
            BrokerStore::kSchemaVersion);
}

TEST_F(BrokerStoreMigrationTest, EveryReleasedSchemaMigratesAndKeepsData) {
  for (int version = 1; version <= BrokerStore::kSchemaVersion; ++version) {
    SCOPED_TRACE(absl::StrCat("from schema v", version));
    TearDown();
    SetUp();
    Exec(Fixture(version));
    ExpectFixtureData();
    EXPECT_EQ(Version(), BrokerStore::kSchemaVersion);
  }
}

TEST_F(BrokerStoreMigrationTest, V1TablesWithoutAMarkerAreVersion1) {
  Exec(Fixture(1));
  Exec("DROP TABLE schema_version");
  ExpectFixtureData();  // Read as version 1: no step re-creates the tables.
}

TEST_F(BrokerStoreMigrationTest, NewerSchemaIsRefusedAndLeftAlone) {
  Exec(Fixture(BrokerStore::kSchemaVersion));
  Exec("UPDATE schema_version SET version = 42");
  auto store = BrokerStore::Open(path_);
  ASSERT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string message(store.status().message());
  EXPECT_NE(message.find("schema version 42"), std::string::npos) << message;
  EXPECT_NE(message.find("latchkey-broker"), std::string::npos) << message;
  EXPECT_EQ(Version(), 42);
}

}  // namespace
}  // namespace latchkey::broker
