// Every released vault.db schema (testdata/schema_vN.sql, one per release)
// must open with this binary, migrate to kStoreSchemaVersion and still
// unseal and decrypt its secrets; a newer one must be refused untouched.
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/sqlite_db.h"
#include "gtest/gtest.h"
#include "vault/secret_store.h"
#include "vault/vault_core.h"

namespace latchkey::vault {
namespace {

std::string Fixture(int version) {
  const std::string path =
      absl::StrCat(getenv("TEST_SRCDIR"), "/latchkey/vault/testdata/schema_v",
                   version, ".sql");
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "missing fixture " << path
                         << ": every released schema version needs one";
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class StoreMigrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lk-mig-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)system(("rm -rf " + dir_).c_str()); }
  void Load(const std::string& sql) {
    auto db = SqliteDb::Open(dir_ + "/vault.db");
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)->Exec(sql).ok());
  }
  std::string Query(const std::string& sql) {
    auto db = SqliteDb::Open(dir_ + "/vault.db");
    auto stmt = (*db)->Prepare(sql);
    EXPECT_TRUE(stmt.ok()) << sql;
    auto row = stmt->Step();
    return row.ok() && *row ? stmt->ColumnText(0) : "";
  }
  // Opens the store, unseals with the fixture's passphrase and reads both
  // secrets.
  void ExpectServes() {
    auto store = OpenSqliteSecretStore(dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    VaultCoreOptions options;
    options.scrypt = {1024, 8, 1};
    options.background_rewrap = false;
    VaultCore core(std::move(*store), options);
    v1::UnsealRequest unseal;
    unseal.set_passphrase("correct horse battery staple");
    ASSERT_TRUE(core.Unseal(unseal).ok());
    for (const auto& [id, want] :
         {std::pair<std::string, std::string>{
              "github", "ghp_exampleTokenValue0123456789"},
          {"stripe", "sk_test_fixtureValue42"}}) {
      std::string seen;
      absl::Status status = core.UseSecret(
          id, [&](const v1::SecretMetadata&, const SecureBuffer& value) {
            seen = std::string(value.view());
            return absl::OkStatus();
          });
      ASSERT_TRUE(status.ok()) << status;
      EXPECT_EQ(seen, want);
    }
  }
  std::string dir_;
};

TEST_F(StoreMigrationTest, PlanMatchesTheDeclaredVersion) {
  EXPECT_EQ(VaultSchemaPlan().current_version(), kStoreSchemaVersion);
}

TEST_F(StoreMigrationTest, EveryReleasedSchemaMigratesAndServes) {
  for (int version = 1; version <= kStoreSchemaVersion; ++version) {
    SCOPED_TRACE(absl::StrCat("from schema v", version));
    TearDown();
    SetUp();
    Load(Fixture(version));
    EXPECT_EQ(Query("SELECT value FROM meta WHERE key = 'schema_version'"),
              std::to_string(version));
    ExpectServes();
    EXPECT_EQ(Query("SELECT value FROM meta WHERE key = 'schema_version'"),
              std::to_string(kStoreSchemaVersion));
    EXPECT_EQ(Query("SELECT name FROM sqlite_master WHERE type = 'index' "
                    "AND name = 'secrets_by_term'"),
              "secrets_by_term");
    ExpectServes();  // A second open is a no-op.
  }
}

TEST_F(StoreMigrationTest, V1TablesWithoutAMarkerAreVersion1) {
  Load(Fixture(1));
  Load("DELETE FROM meta WHERE key = 'schema_version'");
  ExpectServes();
  EXPECT_EQ(Query("SELECT value FROM meta WHERE key = 'schema_version'"),
            std::to_string(kStoreSchemaVersion));
}

TEST_F(StoreMigrationTest, NewerSchemaIsRefusedAndLeftAlone) {
  Load(Fixture(kStoreSchemaVersion));
  Load("UPDATE meta SET value = '99' WHERE key = 'schema_version'");
  auto store = OpenSqliteSecretStore(dir_);
  ASSERT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string message(store.status().message());
  EXPECT_NE(message.find("schema version 99"), std::string::npos) << message;
  EXPECT_NE(message.find(absl::StrCat("up to ", kStoreSchemaVersion)),
            std::string::npos)
      << message;
  EXPECT_EQ(Query("SELECT value FROM meta WHERE key = 'schema_version'"), "99");
}

}  // namespace
}  // namespace latchkey::vault
