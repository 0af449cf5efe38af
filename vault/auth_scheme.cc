#include "vault/auth_scheme.h"

#include <openssl/evp.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "vault/auth/auth_util.h"
#include "vault/auth/aws_sigv4.h"
#include "vault/auth/github_app.h"
#include "vault/auth/hmac_signing.h"
#include "vault/auth/kraken_signing.h"
#include "vault/auth/multi_part_secret.h"
#include "vault/auth/oauth1.h"
#include "vault/auth/oauth2.h"

namespace latchkey::vault {
namespace {

constexpr char kSecretPlaceholder[] = "{secret}";
constexpr size_t kSecretPlaceholderSize = sizeof(kSecretPlaceholder) - 1;

// AddSecretHeader adds a header whose value embeds the secret itself, and
// registers the bare secret with the scrubber as well.
absl::Status AddSecretHeader(absl::string_view name, SecureBuffer value,
                             const SecureBuffer& secret,
                             OutgoingRequest* request,
                             ResponseScrubber* scrubber) {
  LK_RETURN_IF_ERROR(auth::RefuseHeaderCollision(*request, name));
  LK_RETURN_IF_ERROR(
      auth::AddCredentialHeader(name, std::move(value), request, scrubber));
  scrubber->AddCredential(secret.view());
  return absl::OkStatus();
}

// BearerScheme: "Authorization: Bearer <secret>".
class BearerScheme final : public AuthScheme {
 public:
  absl::Status Apply(const SecureBuffer& secret, const AuthContext& /*context*/,
                     OutgoingRequest* request,
                     ResponseScrubber* scrubber) const override {
    return AddSecretHeader("Authorization",
                           auth::SecureConcat("Bearer ", secret.view(), ""),
                           secret, request, scrubber);
  }
};

// HeaderScheme: "<name>: <template with {secret} replaced>".
class HeaderScheme final : public AuthScheme {
 public:
  HeaderScheme(std::string name, std::string prefix, std::string suffix)
      : name_(std::move(name)),
        prefix_(std::move(prefix)),
        suffix_(std::move(suffix)) {}
  absl::Status Apply(const SecureBuffer& secret, const AuthContext& /*context*/,
                     OutgoingRequest* request,
                     ResponseScrubber* scrubber) const override {
    return AddSecretHeader(name_,
                           auth::SecureConcat(prefix_, secret.view(), suffix_),
                           secret, request, scrubber);
  }

 private:
  std::string name_, prefix_, suffix_;
};

// BasicScheme: "Authorization: Basic base64(<username>:<secret>)".
class BasicScheme final : public AuthScheme {
 public:
  explicit BasicScheme(std::string username) : username_(std::move(username)) {}
  absl::Status Apply(const SecureBuffer& secret, const AuthContext& /*context*/,
                     OutgoingRequest* request,
                     ResponseScrubber* scrubber) const override {
    SecureBuffer pair = auth::SecureConcat(username_ + ":", secret.view(), "");
    SecureBuffer encoded(4 * ((pair.size() + 2) / 3) + 1);
    int n = EVP_EncodeBlock(encoded.data(), pair.data(),
                            static_cast<int>(pair.size()));
    encoded.Shrink(static_cast<size_t>(n));
    scrubber->AddCredential(pair.view());
    return AddSecretHeader("Authorization",
                           auth::SecureConcat("Basic ", encoded.view(), ""),
                           secret, request, scrubber);
  }

 private:
  std::string username_;
};

// QueryParamScheme: "?<name>=<secret>" appended to the query.
class QueryParamScheme final : public AuthScheme {
 public:
  explicit QueryParamScheme(std::string name) : name_(std::move(name)) {}
  absl::Status Apply(const SecureBuffer& secret, const AuthContext& /*context*/,
                     OutgoingRequest* request,
                     ResponseScrubber* scrubber) const override {
    for (const auto& [name, value] : request->query) {
      if (name == name_) {
        return absl::InvalidArgumentError(absl::StrCat(
            "query parameter '", name,
            "' is set by the capability's credential and may not be sent by "
            "the agent"));
      }
    }
    scrubber->AddCredential(secret.view());
    request->credential_query.emplace_back(name_,
                                           SecureBuffer::CopyOf(secret.view()));
    return absl::OkStatus();
  }

 private:
  std::string name_;
};

// MakeSchemeOf maps the scheme set in the oneof to its class.
absl::StatusOr<std::unique_ptr<AuthScheme>> MakeSchemeOf(
    const v1::AuthScheme& config) {
  switch (config.scheme_case()) {
    case v1::AuthScheme::SCHEME_NOT_SET:
    case v1::AuthScheme::kBearer:
      return std::unique_ptr<AuthScheme>(new BearerScheme);
    case v1::AuthScheme::kHeader: {
      const std::string& name = config.header().name();
      std::string templ = config.header().value_template().empty()
                              ? kSecretPlaceholder
                              : config.header().value_template();
      size_t at = templ.find(kSecretPlaceholder);
      if (!auth::IsNameToken(name) || at == std::string::npos ||
          templ.find(kSecretPlaceholder, at + 1) != std::string::npos ||
          absl::StrContains(templ, "\r") || absl::StrContains(templ, "\n")) {
        return absl::InvalidArgumentError(
            "header auth needs a header name and a value template with "
            "exactly one {secret}");
      }
      return std::unique_ptr<AuthScheme>(
          new HeaderScheme(name, templ.substr(0, at),
                           templ.substr(at + kSecretPlaceholderSize)));
    }
    case v1::AuthScheme::kBasic:
      if (absl::StrContains(config.basic().username(), ":")) {
        return absl::InvalidArgumentError(
            "basic auth username may not contain ':'");
      }
      return std::unique_ptr<AuthScheme>(
          new BasicScheme(config.basic().username()));
    case v1::AuthScheme::kQueryParam:
      if (!auth::IsNameToken(config.query_param().name())) {
        return absl::InvalidArgumentError(
            "query-parameter auth needs a parameter name");
      }
      return std::unique_ptr<AuthScheme>(
          new QueryParamScheme(config.query_param().name()));
    case v1::AuthScheme::kHmac:
      return auth::MakeHmacSigning(config.hmac());
    case v1::AuthScheme::kAwsSigv4:
      return auth::MakeAwsSigV4(config.aws_sigv4());
    case v1::AuthScheme::kOauth1:
      return auth::MakeOAuth1(config.oauth1());
    case v1::AuthScheme::kGithubApp:
      return auth::MakeGitHubApp(config.github_app());
    case v1::AuthScheme::kOauth2:
      return auth::MakeOAuth2(config.oauth2());
    case v1::AuthScheme::kKraken:
      return auth::MakeKrakenSigning(config.kraken());
  }
  return absl::InvalidArgumentError("unknown auth scheme");
}

}  // namespace

absl::StatusOr<std::unique_ptr<AuthScheme>> MakeAuthScheme(
    const v1::AuthScheme& config) {
  LK_ASSIGN_OR_RETURN(std::unique_ptr<AuthScheme> scheme, MakeSchemeOf(config));
  if (!auth::UsesMultiPartSecret(config)) return scheme;
  return auth::WrapMultiPartSecret(config, std::move(scheme));
}

}  // namespace latchkey::vault
