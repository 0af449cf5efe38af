// The Google templates offer two grants: an OAuth client's refresh token
// (the default) and a service account (--auth_field=grant=jwt_bearer).
// What `add` makes of each is accepted by the vault's own auth scheme
// factory and secret validation, exactly as PutSecret runs them.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "templates/catalog.h"
#include "vault/auth_scheme.h"

namespace latchkey::templates {
namespace {

constexpr char kServiceAccount[] = "reader@project-1.iam.gserviceaccount.com";
const char* const kGoogleTemplates[] = {"google-drive", "google-calendar",
                                        "gmail"};

std::string NewPkcs8Key() {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

absl::Status PutSecretChecks(const Instance& instance,
                             const std::string& value) {
  absl::StatusOr<std::unique_ptr<vault::AuthScheme>> scheme =
      vault::MakeAuthScheme(instance.secret.auth());
  if (!scheme.ok()) return scheme.status();
  return (*scheme)->ValidateSecret(SecureBuffer::CopyOf(value));
}

class GoogleGrantsTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    absl::StatusOr<std::vector<v1::ServiceTemplate>> all = LoadCatalog();
    ASSERT_TRUE(all.ok()) << all.status();
    const v1::ServiceTemplate* t = Find(*all, GetParam());
    ASSERT_NE(t, nullptr);
    template_ = *t;
  }
  v1::ServiceTemplate template_;
};

TEST_P(GoogleGrantsTest, RefreshTokenIsTheDefault) {
  AddOptions options;
  options.auth_fields = {{"client_id", "1234-abc.apps.googleusercontent.com"}};
  absl::StatusOr<Instance> instance = Instantiate(template_, options);
  ASSERT_TRUE(instance.ok()) << instance.status();
  EXPECT_EQ(instance->secret.auth().oauth2().grant(), "refresh_token");
  EXPECT_EQ(instance->secret.auth().oauth2().scopes_size(), 1);
  nlohmann::json value = {{"client_secret", "GOCSPX-0123456789"},
                          {"refresh_token", "1//0123456789"}};
  absl::Status status = PutSecretChecks(*instance, value.dump());
  EXPECT_TRUE(status.ok()) << status;
  // Still required: without the client id, `add` says which flag to pass.
  EXPECT_EQ(Instantiate(template_, AddOptions()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(GoogleGrantsTest, ServiceAccountKeyFile) {
  AddOptions options;
  options.auth_fields = {{"grant", "jwt_bearer"},
                         {"client_id", kServiceAccount},
                         {"subject", "alice@example.com"}};
  absl::StatusOr<Instance> instance = Instantiate(template_, options);
  ASSERT_TRUE(instance.ok()) << instance.status();
  nlohmann::json key = {
      {"type", "service_account"},
      {"project_id", "project-1"},
      {"private_key_id", "0123456789abcdef"},
      {"private_key", NewPkcs8Key()},
      {"client_email", kServiceAccount},
      {"client_id", "112233445566778899"},
      {"auth_uri", "https://accounts.google.com/o/oauth2/auth"},
      {"token_uri", "https://oauth2.googleapis.com/token"},
      {"auth_provider_x509_cert_url",
       "https://www.googleapis.com/oauth2/v1/certs"},
      {"client_x509_cert_url",
       "https://www.googleapis.com/robot/v1/metadata/x509/reader"},
      {"universe_domain", "googleapis.com"}};
  absl::Status status = PutSecretChecks(*instance, key.dump(2));
  EXPECT_TRUE(status.ok()) << status;
  // The key of another service account than the one named is refused.
  key["client_email"] = "writer@project-1.iam.gserviceaccount.com";
  EXPECT_EQ(PutSecretChecks(*instance, key.dump()).code(),
            absl::StatusCode::kInvalidArgument);
  // A refresh-token JSON is not a key file.
  nlohmann::json refresh = {{"client_secret", "GOCSPX-0123456789"},
                            {"refresh_token", "1//0123456789"}};
  EXPECT_EQ(PutSecretChecks(*instance, refresh.dump()).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(GoogleGrantsTest, NoStaleLimitation) {
  EXPECT_EQ(template_.secret().limitations().find("does not have"),
            std::string::npos);
  EXPECT_NE(template_.secret().prompt().find("grant=jwt_bearer"),
            std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Google, GoogleGrantsTest,
                         ::testing::ValuesIn(kGoogleTemplates),
                         [](const ::testing::TestParamInfo<const char*>& i) {
                           std::string name = i.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace latchkey::templates
