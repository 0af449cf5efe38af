#include "vault/vault_core.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>

#include "absl/time/clock.h"
#include "common/backup_files.h"
#include "common/sqlite_db.h"
#include "gtest/gtest.h"
#include "vault/secret_store.h"
#include "vault/unseal_credential.h"

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
    core_ = std::make_unique<VaultCore>(std::move(*store), options_);
  }
  // Default Init (3 of 5 shares), then unseal with shares 1, 3 and 5.
  std::vector<std::string> InitAndUnseal() {
    auto init = core_->Init(v1::InitRequest());
    EXPECT_TRUE(init.ok()) << init.status();
    std::vector<std::string> keys(init->unseal_keys().begin(),
                                  init->unseal_keys().end());
    EXPECT_TRUE(UnsealWith({keys[0], keys[2], keys[4]}).ok());
    return keys;
  }
  // UnsealWith submits each share in its own call; returns the last result.
  absl::StatusOr<v1::VaultStatus> UnsealWith(
      const std::vector<std::string>& shares) {
    absl::StatusOr<v1::VaultStatus> status;
    for (const std::string& share : shares) {
      v1::UnsealRequest unseal;
      unseal.set_key(share);
      status = core_->Unseal(unseal);
      if (!status.ok()) return status;
    }
    return status;
  }
  absl::StatusOr<v1::VaultStatus> UnsealPassphrase(const std::string& text) {
    v1::UnsealRequest unseal;
    unseal.set_passphrase(text);
    return core_->Unseal(unseal);
  }
  std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::string QueryOne(const std::string& sql) {
    auto db = SqliteDb::Open(dir_ + "/vault.db");
    EXPECT_TRUE(db.ok());
    auto stmt = (*db)->Prepare(sql);
    EXPECT_TRUE(stmt.ok()) << sql;
    auto row = stmt->Step();
    EXPECT_TRUE(row.ok() && *row) << sql;
    return stmt->ColumnBlob(0);
  }
  VaultCoreOptions options_ = [] {
    VaultCoreOptions options;
    options.scrypt = {1024, 8, 1};  // cheap for tests; defaults are 2^17.
    options.unseal_backoff_base = absl::Milliseconds(40);
    options.background_rewrap = false;
    return options;
  }();
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
  EXPECT_EQ(init->unseal_keys_size(), 5);  // default: 3 of 5
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(
        init->unseal_keys(i).rfind("lks1-" + std::to_string(i + 1) + "-", 0),
        0u);
  }
  EXPECT_EQ(init->status().threshold(), 3u);
  EXPECT_EQ(init->status().shares(), 5u);
  EXPECT_EQ(init->status().method(), v1::UNSEAL_METHOD_SHAMIR);
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

TEST_F(VaultCoreTest, MalformedShareIsRefusedWithoutCountingIt) {
  auto init = core_->Init(v1::InitRequest());
  ASSERT_TRUE(init.ok());
  v1::UnsealRequest unseal;
  unseal.set_key(std::string(64, 'a'));
  EXPECT_EQ(core_->Unseal(unseal).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::string typo = init->unseal_keys(1);
  typo[10] = typo[10] == 'a' ? 'b' : 'a';
  unseal.set_key(typo);
  auto status = core_->Unseal(unseal);
  EXPECT_EQ(status.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(status.status().message()).find("checksum"),
            std::string::npos);
  EXPECT_TRUE(core_->Status().sealed());
  EXPECT_EQ(core_->Status().progress(), 0u);
  EXPECT_EQ(core_->Status().unseal_retry_after_ms(), 0u);
}

TEST_F(VaultCoreTest, ShamirProgressDuplicateAndReset) {
  auto init = core_->Init(v1::InitRequest());
  ASSERT_TRUE(init.ok());
  auto first = UnsealWith({init->unseal_keys(3)});
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->sealed());
  EXPECT_EQ(first->progress(), 1u);
  EXPECT_EQ(first->threshold(), 3u);
  // The same share again: refused, progress unchanged.
  auto again = UnsealWith({init->unseal_keys(3)});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(core_->Status().progress(), 1u);
  auto second = UnsealWith({init->unseal_keys(0)});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->progress(), 2u);
  // Reset discards progress.
  v1::UnsealRequest reset;
  reset.set_reset(true);
  auto after_reset = core_->Unseal(reset);
  ASSERT_TRUE(after_reset.ok());
  EXPECT_EQ(after_reset->progress(), 0u);
  EXPECT_TRUE(after_reset->sealed());
  auto done = UnsealWith(
      {init->unseal_keys(4), init->unseal_keys(1), init->unseal_keys(2)});
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_FALSE(done->sealed());
  EXPECT_EQ(done->progress(), 0u);
}

TEST_F(VaultCoreTest, WrongShareIsReportedWithoutNamingItAndBacksOff) {
  auto init = core_->Init(v1::InitRequest());
  ASSERT_TRUE(init.ok());
  // A valid-looking share of another vault (same shape, own checksum).
  SecureBuffer other_key = SecureBuffer::Random(32);
  auto other = ShamirSplit(other_key, 5, 3);
  ASSERT_TRUE(other.ok());
  std::string foreign = EncodeShare((*other)[1]);  // index 2
  ASSERT_TRUE(UnsealWith({init->unseal_keys(0), foreign}).ok());
  auto failed = UnsealWith({init->unseal_keys(2)});
  ASSERT_EQ(failed.status().code(), absl::StatusCode::kPermissionDenied);
  std::string message(failed.status().message());
  EXPECT_NE(message.find("progress was reset"), std::string::npos);
  for (const char* index : {"1", "2", "3"}) {
    EXPECT_EQ(message.find(std::string("share ") + index), std::string::npos);
  }
  v1::VaultStatus status = core_->Status();
  EXPECT_TRUE(status.sealed());
  EXPECT_EQ(status.progress(), 0u);
  EXPECT_GT(status.unseal_retry_after_ms(), 0u);
  // Rate limited: the next submission is refused until the backoff passed.
  EXPECT_EQ(UnsealWith({init->unseal_keys(0)}).status().code(),
            absl::StatusCode::kResourceExhausted);
  absl::SleepFor(absl::Milliseconds(60));
  auto ok = UnsealWith(
      {init->unseal_keys(0), init->unseal_keys(1), init->unseal_keys(2)});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_FALSE(ok->sealed());
  EXPECT_EQ(core_->Status().unseal_retry_after_ms(), 0u);
}

TEST_F(VaultCoreTest, FailedUnsealBackoffGrowsExponentially) {
  v1::InitRequest init;
  init.set_method(v1::UNSEAL_METHOD_PASSPHRASE);
  init.set_passphrase("correct horse battery staple");
  ASSERT_TRUE(core_->Init(init).ok());
  std::vector<uint32_t> waits;
  for (int i = 0; i < 3; ++i) {
    auto status = UnsealPassphrase("wrong passphrase here");
    EXPECT_EQ(status.status().code(), absl::StatusCode::kPermissionDenied);
    waits.push_back(core_->Status().unseal_retry_after_ms());
    EXPECT_EQ(UnsealPassphrase("correct horse battery staple").status().code(),
              absl::StatusCode::kResourceExhausted);
    absl::SleepFor(absl::Milliseconds(waits.back() + 5));
  }
  // 40 ms, 80 ms, 160 ms (minus the time the derivation took).
  EXPECT_GT(waits[1], waits[0]);
  EXPECT_GT(waits[2], waits[1]);
  EXPECT_GT(waits[2], 100u);
  auto ok = UnsealPassphrase("correct horse battery staple");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_FALSE(ok->sealed());
}

TEST_F(VaultCoreTest, InitRejectsBadShamirParameters) {
  v1::InitRequest init;
  init.set_shares(3);
  init.set_threshold(4);
  EXPECT_EQ(core_->Init(init).status().code(),
            absl::StatusCode::kInvalidArgument);
  init.set_shares(5);
  init.set_threshold(1);
  EXPECT_EQ(core_->Init(init).status().code(),
            absl::StatusCode::kInvalidArgument);
  init.set_shares(300);
  init.set_threshold(3);
  EXPECT_EQ(core_->Init(init).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(core_->Status().initialized());
  init.set_shares(1);
  init.set_threshold(1);
  auto single = core_->Init(init);
  ASSERT_TRUE(single.ok());
  ASSERT_EQ(single->unseal_keys_size(), 1);
  auto unsealed = UnsealWith({single->unseal_keys(0)});
  ASSERT_TRUE(unsealed.ok());
  EXPECT_FALSE(unsealed->sealed());
}

TEST_F(VaultCoreTest, PassphraseInitUnsealRestart) {
  v1::InitRequest init;
  init.set_method(v1::UNSEAL_METHOD_PASSPHRASE);
  init.set_passphrase("short");
  EXPECT_EQ(core_->Init(init).status().code(),
            absl::StatusCode::kInvalidArgument);
  init.set_passphrase("correct horse battery staple");
  auto response = core_->Init(init);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->unseal_keys_size(), 0);
  EXPECT_EQ(response->status().method(), v1::UNSEAL_METHOD_PASSPHRASE);
  // The scrypt parameters are stored with the wrapped key.
  EXPECT_EQ(QueryOne("SELECT value FROM meta WHERE key = 'passphrase_wrap'")
                .rfind("scrypt$1024$8$1$", 0),
            0u);
  EXPECT_EQ(UnsealWith({"lks1-1-00-00000000"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(UnsealPassphrase("correct horse battery staple").ok());
  ASSERT_TRUE(core_->PutSecret(DemoSecret()).ok());
  Reopen();
  EXPECT_TRUE(core_->Status().sealed());
  EXPECT_EQ(UnsealPassphrase("Correct horse battery staple").status().code(),
            absl::StatusCode::kPermissionDenied);
  absl::SleepFor(absl::Milliseconds(50));
  ASSERT_TRUE(UnsealPassphrase("correct horse battery staple").ok());
  absl::Status status;
  EXPECT_EQ(UseValue("github", &status), kToken);
  EXPECT_TRUE(status.ok()) << status;
}

TEST_F(VaultCoreTest, SystemdCredentialUnseal) {
  v1::InitRequest init;
  init.set_method(v1::UNSEAL_METHOD_SYSTEMD_CREDENTIAL);
  auto response = core_->Init(init);
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->unseal_keys_size(), 1);
  const std::string root_hex = response->unseal_keys(0);
  EXPECT_EQ(root_hex.size(), 64u);
  // The Unseal RPC does not take the credential key.
  v1::UnsealRequest unseal;
  unseal.set_key(root_hex);
  EXPECT_EQ(core_->Unseal(unseal).status().code(),
            absl::StatusCode::kFailedPrecondition);

  const std::string creds = dir_ + "/creds";
  ASSERT_EQ(mkdir(creds.c_str(), 0700), 0);
  auto put_file = [&](const std::string& name, const std::string& bytes,
                      mode_t mode) {
    std::string path = creds + "/" + name;
    std::ofstream(path) << bytes;
    ASSERT_EQ(chmod(path.c_str(), mode), 0);
  };
  put_file("latchkey-root", root_hex + "\n", 0400);
  put_file("loose", root_hex, 0644);
  put_file("wrong", std::string(64, 'a'), 0400);
  unsetenv("CREDENTIALS_DIRECTORY");
  EXPECT_EQ(ReadRootKeyCredential("latchkey-root").status().code(),
            absl::StatusCode::kFailedPrecondition);
  setenv("CREDENTIALS_DIRECTORY", creds.c_str(), 1);
  EXPECT_EQ(ReadRootKeyCredential("../creds/latchkey-root").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadRootKeyCredential("loose").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadRootKeyCredential("missing").status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto wrong = ReadRootKeyCredential("wrong");
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(core_->UnsealWithRootKey(std::move(*wrong)).status().code(),
            absl::StatusCode::kPermissionDenied);
  absl::SleepFor(absl::Milliseconds(50));
  auto key = ReadRootKeyCredential("latchkey-root");
  ASSERT_TRUE(key.ok()) << key.status();
  auto unsealed = core_->UnsealWithRootKey(std::move(*key));
  ASSERT_TRUE(unsealed.ok()) << unsealed.status();
  EXPECT_FALSE(unsealed->sealed());
  ASSERT_TRUE(core_->PutSecret(DemoSecret()).ok());
  unsetenv("CREDENTIALS_DIRECTORY");
}

TEST_F(VaultCoreTest, SealDuringAnInFlightUseDiscardsTheResult) {
  InitAndUnseal();
  ASSERT_TRUE(core_->PutSecret(DemoSecret()).ok());
  bool used = false;
  absl::Status status = core_->UseSecret(
      "github", [&](const v1::SecretMetadata&, const SecureBuffer& value) {
        used = !value.empty();
        core_->Seal();  // an operator seals while the upstream call runs
        return absl::OkStatus();
      });
  EXPECT_TRUE(used);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_NE(std::string(status.message()).find("sealed"), std::string::npos);
}

TEST_F(VaultCoreTest, SealClearsKeysAndProgress) {
  std::vector<std::string> keys = InitAndUnseal();
  core_->Seal();
  ASSERT_TRUE(UnsealWith({keys[1]}).ok());
  EXPECT_EQ(core_->Status().progress(), 1u);
  v1::VaultStatus sealed = core_->Seal();
  EXPECT_TRUE(sealed.sealed());
  EXPECT_EQ(sealed.progress(), 0u);
  EXPECT_EQ(sealed.keyring_term(), 0u);
  v1::RotateKeyringRequest rotate;
  EXPECT_EQ(core_->RotateKeyring().status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(core_->Rekey(v1::RekeyRequest()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(core_->ListSecrets().status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(core_->GetSecretMetadata("github").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(VaultCoreTest, RotateKeyringOldTermsDecryptNewWritesUseNewest) {
  std::vector<std::string> keys = InitAndUnseal();
  ASSERT_TRUE(core_->PutSecret(DemoSecret()).ok());
  auto rotated = core_->RotateKeyring();
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_EQ(rotated->keyring_term(), 2u);
  EXPECT_EQ(core_->Status().keyring_term(), 2u);
  EXPECT_EQ(core_->Status().versions_on_old_terms(), 1u);
  absl::Status status;
  EXPECT_EQ(UseValue("github", &status), kToken);  // term 1 still decrypts
  v1::PutSecretRequest other = DemoSecret();
  other.set_id("stripe");
  auto meta = core_->PutSecret(other);
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->keyring_term(), 2u);
  // Rewrap moves the old ciphertext to term 2.
  auto moved = core_->RewrapBatch(100);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(*moved, 1u);
  EXPECT_EQ(core_->Status().versions_on_old_terms(), 0u);
  EXPECT_EQ(core_->GetSecretMetadata("github")->keyring_term(), 2u);
  EXPECT_EQ(UseValue("github", &status), kToken);
  EXPECT_TRUE(status.ok());
  Reopen();
  ASSERT_TRUE(UnsealWith({keys[0], keys[1], keys[3]}).ok());
  EXPECT_EQ(core_->Status().keyring_term(), 2u);
  EXPECT_EQ(UseValue("github", &status), kToken);
  EXPECT_EQ(UseValue("stripe", &status), kToken);
}

TEST_F(VaultCoreTest, BackgroundRewrapMovesEverything) {
  options_.background_rewrap = true;
  options_.rewrap_batch = 7;
  Reopen();
  InitAndUnseal();
  for (int i = 0; i < 30; ++i) {
    v1::PutSecretRequest put = DemoSecret();
    put.set_id("s" + std::to_string(i));
    ASSERT_TRUE(core_->PutSecret(put).ok());
  }
  ASSERT_TRUE(core_->RotateKeyring().ok());
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (core_->Status().versions_on_old_terms() > 0 &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(core_->Status().versions_on_old_terms(), 0u);
  EXPECT_EQ(QueryOne("SELECT COUNT(*) FROM secrets WHERE term = 2"), "30");
}

TEST_F(VaultCoreTest, RekeyShamirNeedsThresholdAndKeepsData) {
  std::vector<std::string> keys = InitAndUnseal();
  ASSERT_TRUE(core_->PutSecret(DemoSecret()).ok());
  core_.reset();
  const std::string ciphertext =
      QueryOne("SELECT hex(sealed_value) FROM secrets");
  Reopen();
  ASSERT_TRUE(UnsealWith({keys[0], keys[1], keys[2]}).ok());

  v1::RekeyRequest rekey;
  rekey.set_shares(3);
  rekey.set_threshold(2);
  rekey.set_key(keys[4]);
  auto step = core_->Rekey(rekey);
  ASSERT_TRUE(step.ok()) << step.status();
  EXPECT_FALSE(step->complete());
  EXPECT_EQ(step->progress(), 1u);
  EXPECT_EQ(step->threshold(), 3u);
  // A different configuration in the middle is refused.
  v1::RekeyRequest other = rekey;
  other.set_shares(4);
  other.set_key(keys[3]);
  EXPECT_EQ(core_->Rekey(other).status().code(),
            absl::StatusCode::kInvalidArgument);
  rekey.set_key(keys[3]);
  step = core_->Rekey(rekey);
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->progress(), 2u);
  rekey.set_key(keys[0]);
  step = core_->Rekey(rekey);
  ASSERT_TRUE(step.ok()) << step.status();
  ASSERT_TRUE(step->complete());
  ASSERT_EQ(step->unseal_keys_size(), 3);
  EXPECT_EQ(step->status().threshold(), 2u);
  std::vector<std::string> fresh(step->unseal_keys().begin(),
                                 step->unseal_keys().end());

  // The data was not re-encrypted.
  core_.reset();
  EXPECT_EQ(QueryOne("SELECT hex(sealed_value) FROM secrets"), ciphertext);
  Reopen();
  // Old shares no longer unseal; new ones do.
  EXPECT_EQ(UnsealWith({keys[0], keys[1], keys[2]}).status().code(),
            absl::StatusCode::kPermissionDenied);
  absl::SleepFor(absl::Milliseconds(50));
  auto unsealed = UnsealWith({fresh[2], fresh[0]});
  ASSERT_TRUE(unsealed.ok()) << unsealed.status();
  EXPECT_FALSE(unsealed->sealed());
  absl::Status status;
  EXPECT_EQ(UseValue("github", &status), kToken);
}

TEST_F(VaultCoreTest, RekeyWithWrongSharesIsRefused) {
  std::vector<std::string> keys = InitAndUnseal();
  SecureBuffer other_key = SecureBuffer::Random(32);
  auto other = ShamirSplit(other_key, 5, 3);
  ASSERT_TRUE(other.ok());
  v1::RekeyRequest rekey;
  rekey.set_key(keys[0]);
  ASSERT_TRUE(core_->Rekey(rekey).ok());
  rekey.set_key(keys[1]);
  ASSERT_TRUE(core_->Rekey(rekey).ok());
  rekey.set_key(EncodeShare((*other)[4]));
  EXPECT_EQ(core_->Rekey(rekey).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(core_->Status().rekey_progress(), 0u);
  EXPECT_FALSE(core_->Status().sealed());  // still unsealed, old keys valid
}

TEST_F(VaultCoreTest, RekeyShamirToPassphraseAndPassphraseToNew) {
  std::vector<std::string> keys = InitAndUnseal();
  ASSERT_TRUE(core_->PutSecret(DemoSecret()).ok());
  v1::RekeyRequest rekey;
  rekey.set_method(v1::UNSEAL_METHOD_PASSPHRASE);
  rekey.set_new_passphrase("first passphrase 123");
  for (int i : {0, 1, 2}) {
    rekey.set_key(keys[i]);
    auto step = core_->Rekey(rekey);
    ASSERT_TRUE(step.ok()) << step.status();
    EXPECT_EQ(step->complete(), i == 2);
    if (i == 2) {
      EXPECT_EQ(step->unseal_keys_size(), 0);
    }
  }
  EXPECT_EQ(core_->Status().method(), v1::UNSEAL_METHOD_PASSPHRASE);
  v1::RekeyRequest again;
  again.set_method(v1::UNSEAL_METHOD_PASSPHRASE);
  again.set_new_passphrase("second passphrase 456");
  again.set_passphrase("not the passphrase");
  EXPECT_EQ(core_->Rekey(again).status().code(),
            absl::StatusCode::kPermissionDenied);
  absl::SleepFor(absl::Milliseconds(50));
  again.set_passphrase("first passphrase 123");
  auto done = core_->Rekey(again);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(done->complete());
  Reopen();
  EXPECT_EQ(UnsealPassphrase("first passphrase 123").status().code(),
            absl::StatusCode::kPermissionDenied);
  absl::SleepFor(absl::Milliseconds(50));
  ASSERT_TRUE(UnsealPassphrase("second passphrase 456").ok());
  absl::Status status;
  EXPECT_EQ(UseValue("github", &status), kToken);
}

TEST_F(VaultCoreTest, DeleteDestroysCiphertexts) {
  InitAndUnseal();
  for (int i = 0; i < 3; ++i) {
    v1::PutSecretRequest put = DemoSecret();
    put.set_value(std::string(kToken) + std::to_string(i));
    ASSERT_TRUE(core_->PutSecret(put).ok());
  }
  const std::string ciphertext = QueryOne(
      "SELECT sealed_value FROM secrets ORDER BY version DESC LIMIT 1");
  ASSERT_GT(ciphertext.size(), 28u);
  ASSERT_TRUE(core_->DeleteSecret("github").ok());
  core_.reset();
  std::string files =
      ReadFile(dir_ + "/vault.db") + ReadFile(dir_ + "/vault.db-wal");
  EXPECT_EQ(files.find(ciphertext.substr(12, 16)), std::string::npos)
      << "a deleted ciphertext is still in the store files";
}

TEST_F(VaultCoreTest, PutUseRestartUnsealUseAgain) {
  std::vector<std::string> keys = InitAndUnseal();
  auto meta = core_->PutSecret(DemoSecret());
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->version(), 1u);
  EXPECT_EQ(meta->origins(0), "https://api.github.com:443");
  absl::Status status;
  EXPECT_EQ(UseValue("github", &status), kToken);
  ASSERT_TRUE(status.ok());

  Reopen();
  EXPECT_TRUE(core_->Status().sealed());
  ASSERT_TRUE(UnsealWith({keys[4], keys[1], keys[0]}).ok());
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

constexpr char kRotated[] = "rotated-refresh-token-0123456789";
constexpr char kStateName[] = "oauth2.refresh_token";

std::string Loaded(const absl::StatusOr<std::optional<SecureBuffer>>& loaded) {
  if (!loaded.ok()) return "error: " + loaded.status().ToString();
  if (!loaded->has_value()) return "none";
  return std::string((*loaded)->view());
}

// Derived state (a rotated refresh token): sealed on disk, survives a
// restart and keyring rotation, bound to its version, dropped by a new
// version or a delete, refused when tampered with or sealed.
TEST_F(VaultCoreTest, DerivedStateLifecycle) {
  std::vector<std::string> keys = InitAndUnseal();
  auto meta = core_->PutSecret(DemoSecret());
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(Loaded(core_->LoadDerivedState("github", 1, kStateName)), "none");
  ASSERT_TRUE(core_
                  ->SaveDerivedState("github", 1, kStateName,
                                     SecureBuffer::CopyOf(kRotated))
                  .ok());
  EXPECT_EQ(Loaded(core_->LoadDerivedState("github", 1, kStateName)), kRotated);
  // Another version or name does not see it.
  EXPECT_EQ(Loaded(core_->LoadDerivedState("github", 2, kStateName)), "none");
  EXPECT_EQ(Loaded(core_->LoadDerivedState("github", 1, "other")), "none");

  // Rotation: the row moves to the new term with the secret versions.
  ASSERT_TRUE(core_->RotateKeyring().ok());
  EXPECT_EQ(core_->Status().versions_on_old_terms(), 2u);
  auto moved = core_->RewrapBatch(100);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(*moved, 2u);
  EXPECT_EQ(core_->Status().versions_on_old_terms(), 0u);
  EXPECT_EQ(QueryOne("SELECT term FROM derived_state"), "2");

  core_.reset();
  std::string cmd = "cat " + dir_ + "/vault.db* | grep -q " + kRotated;
  EXPECT_NE(std::system(cmd.c_str()), 0) << "derived state in clear on disk";
  Reopen();
  EXPECT_EQ(
      Loaded(core_->LoadDerivedState("github", 1, kStateName)).substr(0, 6),
      "error:");  // sealed
  ASSERT_TRUE(UnsealWith({keys[1], keys[2], keys[3]}).ok());
  EXPECT_EQ(Loaded(core_->LoadDerivedState("github", 1, kStateName)), kRotated);

  // Moved to another version, it fails authentication (DATA_LOSS).
  TamperRow("UPDATE derived_state SET version = 7");
  Reopen();
  ASSERT_TRUE(UnsealWith({keys[1], keys[2], keys[3]}).ok());
  EXPECT_EQ(core_->LoadDerivedState("github", 7, kStateName).status().code(),
            absl::StatusCode::kDataLoss);
  TamperRow("UPDATE derived_state SET version = 1");
  Reopen();
  ASSERT_TRUE(UnsealWith({keys[1], keys[2], keys[3]}).ok());
  EXPECT_EQ(Loaded(core_->LoadDerivedState("github", 1, kStateName)), kRotated);

  // A new version drops it; a save for the replaced version is discarded.
  ASSERT_TRUE(core_->PutSecret(DemoSecret()).ok());
  EXPECT_EQ(QueryOne("SELECT COUNT(*) FROM derived_state"), "0");
  ASSERT_TRUE(core_
                  ->SaveDerivedState("github", 1, kStateName,
                                     SecureBuffer::CopyOf(kRotated))
                  .ok());
  EXPECT_EQ(Loaded(core_->LoadDerivedState("github", 1, kStateName)), "none");
  ASSERT_TRUE(core_
                  ->SaveDerivedState("github", 2, kStateName,
                                     SecureBuffer::CopyOf(kRotated))
                  .ok());
  EXPECT_EQ(QueryOne("SELECT COUNT(*) FROM derived_state"), "1");
  // A backup (the online snapshot `latchkeyctl backup` streams) keeps it:
  // the restored store unseals with the same keys and opens it.
  char restored[] = "/tmp/lk-vault-restore-XXXXXX";
  ASSERT_NE(mkdtemp(restored), nullptr);
  ASSERT_EQ(chmod(restored, 0700), 0);
  auto snapshot = SnapshotSqliteStore(dir_ + "/vault.db", "vault.db",
                                      std::string(restored) + "/vault.db",
                                      VaultSchemaPlan());
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  {
    auto store = OpenSqliteSecretStore(restored);
    ASSERT_TRUE(store.ok()) << store.status();
    VaultCore copy(std::move(*store), options_);
    v1::UnsealRequest unseal;
    for (int i : {0, 2, 4}) {
      unseal.set_key(keys[i]);
      ASSERT_TRUE(copy.Unseal(unseal).ok());
    }
    EXPECT_EQ(Loaded(copy.LoadDerivedState("github", 2, kStateName)), kRotated);
  }
  ASSERT_EQ(std::system((std::string("rm -rf ") + restored).c_str()), 0);

  // Delete drops it with the versions.
  ASSERT_TRUE(core_->DeleteSecret("github").ok());
  EXPECT_EQ(QueryOne("SELECT COUNT(*) FROM derived_state"), "0");
  ASSERT_TRUE(core_->PutSecret(DemoSecret()).ok());
  EXPECT_EQ(Loaded(core_->LoadDerivedState("github", 1, kStateName)), "none");
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
  std::vector<std::string> keys = InitAndUnseal();
  ASSERT_TRUE(core_->PutSecret(DemoSecret()).ok());
  TamperRow(GetParam().sql);
  Reopen();
  absl::StatusOr<v1::VaultStatus> unsealed =
      UnsealWith({keys[1], keys[2], keys[3]});
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

class StoreFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/lk-store-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    root_ = templ;
    dir_ = root_ + "/vault";
  }
  void TearDown() override {
    ASSERT_EQ(std::system(("rm -rf " + root_).c_str()), 0);
  }
  std::string root_;
  std::string dir_;
};

TEST_F(StoreFilesTest, CreatesPrivateDirectoryAndFiles) {
  {
    auto store = OpenSqliteSecretStore(dir_);
    ASSERT_TRUE(store.ok()) << store.status();
  }
  struct stat st;
  ASSERT_EQ(stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat((dir_ + "/vault.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(StoreFilesTest, RefusesLooseDirectory) {
  ASSERT_EQ(mkdir(dir_.c_str(), 0755), 0);
  ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
  auto store = OpenSqliteSecretStore(dir_);
  ASSERT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(store.status().message()).find("chmod 700"),
            std::string::npos)
      << store.status();
}

TEST_F(StoreFilesTest, RefusesLooseDatabaseFiles) {
  { ASSERT_TRUE(OpenSqliteSecretStore(dir_).ok()); }
  for (const char* suffix : {"", "-wal"}) {
    std::string file = dir_ + "/vault.db" + suffix;
    std::ofstream(file, std::ios::app).flush();
    ASSERT_EQ(chmod(file.c_str(), 0644), 0);
    auto store = OpenSqliteSecretStore(dir_);
    ASSERT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition)
        << suffix;
    EXPECT_NE(std::string(store.status().message()).find("chmod 600"),
              std::string::npos)
        << store.status();
    ASSERT_EQ(chmod(file.c_str(), 0600), 0);
  }
  EXPECT_TRUE(OpenSqliteSecretStore(dir_).ok());
}

TEST_F(StoreFilesTest, RefusesFilesOwnedBySomeoneElse) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  { ASSERT_TRUE(OpenSqliteSecretStore(dir_).ok()); }
  ASSERT_EQ(chown((dir_ + "/vault.db").c_str(), 65534, 65534), 0);
  auto store = OpenSqliteSecretStore(dir_);
  ASSERT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(store.status().message()).find("owned by uid 65534"),
            std::string::npos)
      << store.status();
  ASSERT_EQ(chown((dir_ + "/vault.db").c_str(), 0, 0), 0);
  ASSERT_EQ(chown(dir_.c_str(), 65534, 65534), 0);
  EXPECT_EQ(OpenSqliteSecretStore(dir_).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(StoreFilesTest, SchemaVersionIsRecordedAndNewerIsRefused) {
  { ASSERT_TRUE(OpenSqliteSecretStore(dir_).ok()); }
  {
    auto db = SqliteDb::Open(dir_ + "/vault.db");
    ASSERT_TRUE(db.ok());
    auto stmt =
        (*db)->Prepare("SELECT value FROM meta WHERE key = 'schema_version'");
    ASSERT_TRUE(stmt.ok());
    ASSERT_TRUE(*stmt->Step());
    EXPECT_EQ(stmt->ColumnText(0), std::to_string(kStoreSchemaVersion));
    ASSERT_TRUE((*db)
                    ->Exec("UPDATE meta SET value = '99' WHERE key = "
                           "'schema_version'")
                    .ok());
  }
  auto store = OpenSqliteSecretStore(dir_);
  ASSERT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(store.status().message()).find("schema version 99"),
            std::string::npos);
}

}  // namespace
}  // namespace latchkey::vault
