#include "vault/vault_core.h"

#include <cstdlib>

#include "common/sqlite_db.h"
#include "gtest/gtest.h"
#include "vault/secret_store.h"

namespace latchkey::vault {
namespace {

constexpr char kToken[] = "ghp_exampleTokenValue0123456789";

class VaultCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/lk-vault-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    dir_ = templ;
    Reopen();
  }
  void TearDown() override {
    core_.reset();
    ASSERT_EQ(std::system(("rm -rf " + dir_).c_str()), 0);
  }
  void Reopen() {
    core_.reset();
    auto store = OpenSqliteSecretStore(dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    core_ = std::make_unique<VaultCore>(std::move(*store));
  }
  std::string InitAndUnseal() {
    auto init = core_->Init(v1::InitRequest());
    EXPECT_TRUE(init.ok()) << init.status();
    std::string key = init->unseal_keys(0);
    v1::UnsealRequest unseal;
    unseal.set_key(key);
    EXPECT_TRUE(core_->Unseal(unseal).ok());
    return key;
  }
  v1::PutSecretRequest DemoSecret() {
    v1::PutSecretRequest put;
    put.set_id("github");
    put.set_value(kToken);
    put.add_origins("https://api.github.com");
    return put;
  }
  std::string UseValue(const std::string& id, absl::Status* status) {
    std::string seen;
    *status = core_->UseSecret(
        id, [&](const v1::SecretMetadata&, const SecureBuffer& value) {
          seen = std::string(value.view());
          return absl::OkStatus();
        });
    return seen;
  }
  // Edit one column of the stored secret row with raw SQL, as an attacker
  // with write access to the file would.
  void TamperRow(const std::string& sql) {
    core_.reset();
    auto db = SqliteDb::Open(dir_ + "/vault.db");
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec(sql).ok()) << sql;
  }
  std::string dir_;
  std::unique_ptr<VaultCore> core_;
};

TEST_F(VaultCoreTest, StartsUninitializedThenSealedAfterInit) {
  EXPECT_FALSE(core_->Status().initialized());
  EXPECT_TRUE(core_->Status().sealed());
  auto init = core_->Init(v1::InitRequest());
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->unseal_keys_size(), 1);
  EXPECT_EQ(init->unseal_keys(0).size(), 64u);
  EXPECT_TRUE(core_->Status().sealed());
  EXPECT_EQ(core_->Init(v1::InitRequest()).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(VaultCoreTest, SealedVaultRefusesSecretOperations) {
  core_->Init(v1::InitRequest()).IgnoreError();
  EXPECT_EQ(core_->PutSecret(DemoSecret()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  absl::Status status;
  UseValue("github", &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(status.message()).find("sealed"), std::string::npos);
}

TEST_F(VaultCoreTest, WrongUnsealKeyIsRefused) {
  core_->Init(v1::InitRequest()).IgnoreError();
  v1::UnsealRequest unseal;
  unseal.set_key(std::string(64, 'a'));
  EXPECT_EQ(core_->Unseal(unseal).status().code(),
            absl::StatusCode::kPermissionDenied);
  unseal.set_key("not-hex");
  EXPECT_EQ(core_->Unseal(unseal).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(core_->Status().sealed());
}

TEST_F(VaultCoreTest, PutUseRestartUnsealUseAgain) {
  std::string key = InitAndUnseal();
  auto meta = core_->PutSecret(DemoSecret());
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->version(), 1u);
  EXPECT_EQ(meta->origins(0), "https://api.github.com:443");
  absl::Status status;
  EXPECT_EQ(UseValue("github", &status), kToken);
  ASSERT_TRUE(status.ok());

  Reopen();
  EXPECT_TRUE(core_->Status().sealed());
  v1::UnsealRequest unseal;
  unseal.set_key(key);
  ASSERT_TRUE(core_->Unseal(unseal).ok());
  EXPECT_EQ(UseValue("github", &status), kToken);
  core_->Seal();
  UseValue("github", &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(VaultCoreTest, ValueIsNotStoredInClear) {
  InitAndUnseal();
  ASSERT_TRUE(core_->PutSecret(DemoSecret()).ok());
  core_.reset();
  std::string cmd = "cat " + dir_ + "/vault.db* | grep -q " + kToken;
  EXPECT_NE(std::system(cmd.c_str()), 0) << "token found in clear on disk";
}

TEST_F(VaultCoreTest, VersionsIncreaseAndOldOnesArePruned) {
  InitAndUnseal();
  for (int i = 0; i < 8; ++i) {
    v1::PutSecretRequest put = DemoSecret();
    put.set_value(std::string(kToken) + std::to_string(i));
    auto meta = core_->PutSecret(put);
    ASSERT_TRUE(meta.ok());
    EXPECT_EQ(meta->version(), static_cast<uint32_t>(i + 1));
  }
  absl::Status status;
  EXPECT_EQ(UseValue("github", &status), std::string(kToken) + "7");
  auto deleted = core_->DeleteSecret("github");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->versions_destroyed(), kSecretVersionsKept);
  UseValue("github", &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
}

TEST_F(VaultCoreTest, RejectsBadInput) {
  InitAndUnseal();
  v1::PutSecretRequest put = DemoSecret();
  put.set_id("Bad Id");
  EXPECT_EQ(core_->PutSecret(put).status().code(),
            absl::StatusCode::kInvalidArgument);
  put = DemoSecret();
  put.set_value("short");
  EXPECT_EQ(core_->PutSecret(put).status().code(),
            absl::StatusCode::kInvalidArgument);
  put = DemoSecret();
  put.clear_origins();
  EXPECT_EQ(core_->PutSecret(put).status().code(),
            absl::StatusCode::kInvalidArgument);
  put = DemoSecret();
  put.set_origins(0, "https://user@evil.example");
  EXPECT_EQ(core_->PutSecret(put).status().code(),
            absl::StatusCode::kInvalidArgument);
  put = DemoSecret();
  put.mutable_auth()->mutable_header()->set_name("X-Key");
  put.mutable_auth()->mutable_header()->set_value_template("no placeholder");
  EXPECT_EQ(core_->PutSecret(put).status().code(),
            absl::StatusCode::kInvalidArgument);
}

struct TamperCase {
  const char* name;
  const char* sql;
};

class VaultTamperTest : public VaultCoreTest,
                        public ::testing::WithParamInterface<TamperCase> {};

TEST_P(VaultTamperTest, TamperedFieldIsDataLossNamingTheSecret) {
  std::string key = InitAndUnseal();
  ASSERT_TRUE(core_->PutSecret(DemoSecret()).ok());
  TamperRow(GetParam().sql);
  Reopen();
  v1::UnsealRequest unseal;
  unseal.set_key(key);
  absl::StatusOr<v1::VaultStatus> unsealed = core_->Unseal(unseal);
  absl::Status status = unsealed.status();
  if (status.ok()) UseValue("github", &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  if (std::string(GetParam().name) != "keyring") {
    EXPECT_NE(std::string(status.message()).find("github"), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fields, VaultTamperTest,
    ::testing::Values(
        TamperCase{"ciphertext",
                   "UPDATE secrets SET sealed_value = substr(sealed_value, 1, "
                   "20) || X'00' || substr(sealed_value, 22)"},
        TamperCase{"nonce",
                   "UPDATE secrets SET sealed_value = X'00' || "
                   "substr(sealed_value, 2)"},
        TamperCase{"tag",
                   "UPDATE secrets SET sealed_value = substr(sealed_value, 1, "
                   "length(sealed_value) - 1) || X'01'"},
        TamperCase{"version", "UPDATE secrets SET version = 7"},
        TamperCase{"term", "UPDATE secrets SET term = 2"},
        TamperCase{"metadata",
                   "UPDATE secrets SET metadata = metadata || X'0a00'"},
        TamperCase{"keyring",
                   "INSERT INTO keyring(term, sealed_key) SELECT 2, "
                   "substr(sealed_key, 1, 5) || X'00' || substr(sealed_key, "
                   "7) FROM keyring WHERE term = 1"}),
    [](const ::testing::TestParamInfo<TamperCase>& info) {
      return std::string(info.param.name);
    });

}  // namespace
}  // namespace latchkey::vault
