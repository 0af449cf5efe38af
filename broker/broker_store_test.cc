#include "broker/broker_store.h"

#include <cstdlib>

#include "common/sqlite_db.h"
#include "gtest/gtest.h"

namespace latchkey::broker {
namespace {

std::string TempDb(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = std::string(dir ? dir : "/tmp") + "/" + name + ".db";
  std::remove(path.c_str());
  return path;
}

TEST(BrokerStoreTest, EmptyDatabaseHasNoConfigAndSchemaVersion1) {
  std::string path = TempDb("empty");
  auto store = BrokerStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  auto config = (*store)->LoadConfig();
  ASSERT_TRUE(config.ok());
  EXPECT_FALSE(config->has_value());
  auto db = SqliteDb::Open(path);
  ASSERT_TRUE(db.ok());
  auto select = (*db)->Prepare("SELECT version FROM schema_version");
  ASSERT_TRUE(select.ok());
  ASSERT_TRUE(*select->Step());
  EXPECT_EQ(select->ColumnInt(0), BrokerStore::kSchemaVersion);
  auto mode = (*db)->Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(*mode->Step());
  EXPECT_EQ(mode->ColumnText(0), "wal");
}

TEST(BrokerStoreTest, RoundTripsConfigSessionsAndRevocations) {
  std::string path = TempDb("roundtrip");
  {
    auto store = *BrokerStore::Open(path);
    v1::BrokerConfig config;
    config.add_agents()->set_name("b");
    config.add_agents()->set_name("a");
    config.add_capabilities()->set_name("z");
    config.add_capabilities()->set_name("y");
    ASSERT_TRUE(store->SaveConfig(config, "abc").ok());
    v1::Session session;
    session.set_id("s1");
    session.set_agent("a");
    session.mutable_expire_time()->set_seconds(2'000'000'000);
    ASSERT_TRUE(store->PutSession(session, 3).ok());
    session.set_revoked(true);
    ASSERT_TRUE(store->PutSession(session, 3).ok());
    v1::Revocation revocation;
    revocation.set_kind(v1::Revocation::AGENT);
    revocation.set_name("a");
    revocation.set_active(true);
    ASSERT_TRUE(store->PutRevocation(revocation, 4).ok());
  }
  auto store = *BrokerStore::Open(path);
  auto config = store->LoadConfig();
  ASSERT_TRUE(config.ok() && config->has_value());
  EXPECT_EQ((*config)->file_sha256, "abc");
  ASSERT_EQ((*config)->config.agents_size(), 2);
  EXPECT_EQ((*config)->config.agents(0).name(), "b");  // order kept
  EXPECT_EQ((*config)->config.capabilities(1).name(), "y");
  auto sessions = store->LoadSessions();
  ASSERT_EQ(sessions->size(), 1u);
  EXPECT_TRUE((*sessions)[0].session.revoked());
  EXPECT_EQ((*sessions)[0].epoch, 3);
  auto revocations = store->LoadRevocations();
  ASSERT_EQ(revocations->size(), 1u);
  EXPECT_EQ((*revocations)[0].seq, 4);
  EXPECT_TRUE((*revocations)[0].revocation.active());
  ASSERT_TRUE(
      store->DeleteSessionsExpiredBefore(absl::FromUnixSeconds(2'000'000'001))
          .ok());
  EXPECT_TRUE(store->LoadSessions()->empty());
}

TEST(BrokerStoreTest, RefusesANewerSchema) {
  std::string path = TempDb("newer");
  ASSERT_TRUE(BrokerStore::Open(path).ok());
  {
    auto db = *SqliteDb::Open(path);
    ASSERT_TRUE(db->Exec("UPDATE schema_version SET version = 99").ok());
  }
  auto store = BrokerStore::Open(path);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace latchkey::broker
