#include "vault/auth/oauth2.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "vault/auth/auth_util.h"
#include "vault/auth/rs256_jwt.h"
#include "vault/auth/token_endpoint.h"

namespace latchkey::vault::auth {
namespace {

constexpr char kJwtBearerGrant[] =
    "urn:ietf:params:oauth:grant-type:jwt-bearer";
// Google accepts assertions valid for at most one hour.
constexpr int64_t kAssertionLifetimeSeconds = 3600;
// The derived-state name of a refresh token the endpoint rotated.
constexpr char kRotatedRefreshToken[] = "oauth2.refresh_token";

// The fields of a Google service-account key file: the two the grant needs
// and the others Google documents, accepted and ignored. Anything else is
// refused, so a file of another kind is not silently half-used.
const std::vector<std::string>& ServiceAccountOptionalFields() {
  static const auto* fields =
      new std::vector<std::string>{"type",
                                   "project_id",
                                   "private_key_id",
                                   "client_id",
                                   "auth_uri",
                                   "token_uri",
                                   "auth_provider_x509_cert_url",
                                   "client_x509_cert_url",
                                   "universe_domain"};
  return *fields;
}

enum class Grant { kClientCredentials, kRefreshToken, kJwtBearer };

Grant GrantOf(const v1::OAuth2Auth& config) {
  if (config.grant() == "refresh_token") return Grant::kRefreshToken;
  if (config.grant() == "jwt_bearer") return Grant::kJwtBearer;
  return Grant::kClientCredentials;
}

using Fields = std::map<std::string, SecureBuffer>;

// The cache margin is chosen when the token is fetched; the cache asks for
// one fixed margin, so short-lived tokens are stored with their expiry
// pulled in (see Fetch) and the cache margin is zero.
class OAuth2Scheme final : public AuthScheme {
 public:
  OAuth2Scheme(v1::OAuth2Auth config, TokenEndpoint endpoint)
      : config_(std::move(config)),
        endpoint_(std::move(endpoint)),
        grant_(GrantOf(config_)) {}

  absl::Status ValidateSecret(const SecureBuffer& secret) const override {
    return ParseFields(secret, /*check_key=*/true).status();
  }

  absl::Status Apply(const SecureBuffer& secret, const AuthContext& context,
                     OutgoingRequest* request,
                     ResponseScrubber* scrubber) const override {
    LK_RETURN_IF_ERROR(RequireTokenPlumbing(context));
    LK_RETURN_IF_ERROR(RequireBound(endpoint_, context));
    LK_RETURN_IF_ERROR(RefuseHeaderCollision(*request, "Authorization"));
    // The key was checked at PutSecret; signing refuses a bad one anyway.
    absl::StatusOr<Fields> fields = ParseFields(secret, /*check_key=*/false);
    if (!fields.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          fields.status().message(), "; replace it with PutSecret"));
    }
    for (const auto& [name, value] : *fields) {
      // A service-account file's other fields (its type, project, e-mail)
      // are not credentials; scrubbing them would mangle answers.
      if (grant_ == Grant::kJwtBearer && name != "private_key") continue;
      scrubber->AddCredential(value.view());
    }
    LK_ASSIGN_OR_RETURN(
        SecureBuffer token,
        context.tokens->Get(
            context.cache_key, context.now, absl::ZeroDuration(),
            [&]() { return Fetch(*fields, context, scrubber); }));
    scrubber->AddCredential(token.view());
    return AddCredentialHeader("Authorization",
                               SecureConcat("Bearer ", token.view(), ""),
                               request, scrubber);
  }

 private:
  absl::StatusOr<Fields> ParseFields(const SecureBuffer& secret,
                                     bool check_key) const {
    switch (grant_) {
      case Grant::kRefreshToken:
        return SecretFields(secret, {"client_secret", "refresh_token"}, {});
      case Grant::kJwtBearer:
        return ServiceAccountFields(secret, check_key);
      case Grant::kClientCredentials:
        break;
    }
    return SecretFields(secret, {"client_secret"}, {});
  }

  absl::StatusOr<Fields> ServiceAccountFields(const SecureBuffer& secret,
                                              bool check_key) const {
    absl::StatusOr<Fields> fields =
        SecretFields(secret, {"client_email", "private_key"},
                     ServiceAccountOptionalFields());
    if (!fields.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the jwt_bearer grant needs a Google service-account key file "
          "(JSON, as downloaded): ",
          fields.status().message()));
    }
    auto type = fields->find("type");
    if (type != fields->end() && type->second.view() != "service_account") {
      return absl::InvalidArgumentError(
          "the key file's type is not service_account");
    }
    if (check_key && !IsRsaPrivateKeyPem(fields->at("private_key"))) {
      return absl::InvalidArgumentError(
          "the key file's private_key is not an unencrypted RSA private key "
          "in PEM form");
    }
    if (!config_.client_id().empty() &&
        fields->at("client_email").view() != config_.client_id()) {
      // client_email is an identity, not a secret: naming the configured
      // one helps the operator.
      return absl::InvalidArgumentError(
          absl::StrCat("the key file's client_email is not ",
                       config_.client_id(), " (the configured client_id)"));
    }
    return fields;
  }

  // Assertion is the RFC 7523 JWT: iss = the service account, aud = the
  // configured token_url, scope, an hour of validity, sub when delegating.
  absl::StatusOr<SecureBuffer> Assertion(const Fields& fields,
                                         absl::Time now) const {
    nlohmann::json header = {{"alg", "RS256"}, {"typ", "JWT"}};
    auto kid = fields.find("private_key_id");
    if (kid != fields.end() && !kid->second.empty()) {
      header["kid"] = std::string(kid->second.view());
    }
    const int64_t now_s = absl::ToUnixSeconds(now);
    nlohmann::json claims = {
        {"iss", std::string(fields.at("client_email").view())},
        {"scope", absl::StrJoin(config_.scopes(), " ")},
        // The key file's token_uri is deliberately not used, here or as the
        // endpoint: the credential only goes where the operator bound it
        // (the configured token_url, one of the secret's origins), whatever
        // the file says.
        {"aud", config_.token_url()},
        {"iat", now_s},
        {"exp", now_s + kAssertionLifetimeSeconds}};
    if (!config_.subject().empty()) claims["sub"] = config_.subject();
    absl::StatusOr<SecureBuffer> jwt =
        SignRs256Jwt(fields.at("private_key"), header.dump(), claims.dump());
    if (!jwt.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the service-account key cannot sign: ", jwt.status().message(),
          "; replace it with PutSecret"));
    }
    return jwt;
  }

  // StoredRefreshToken is the rotated refresh token the vault stored for
  // this secret version, if any; Fetch sends it instead of the secret's.
  absl::StatusOr<std::optional<SecureBuffer>> StoredRefreshToken(
      const AuthContext& context) const {
    if (!context.load_state) return std::optional<SecureBuffer>();
    return context.load_state(kRotatedRefreshToken);
  }

  absl::StatusOr<DerivedToken> Fetch(const Fields& fields,
                                     const AuthContext& context,
                                     ResponseScrubber* scrubber) const {
    OutgoingRequest token_request = NewTokenRequest(endpoint_, context, "POST");
    token_request.headers = {
        {"Content-Type", "application/x-www-form-urlencoded"},
        {"Accept", "application/json"}};
    std::string& body = token_request.body;
    SecureBuffer assertion;
    std::optional<SecureBuffer> stored;
    if (grant_ == Grant::kRefreshToken) {
      LK_ASSIGN_OR_RETURN(stored, StoredRefreshToken(context));
      if (stored.has_value()) scrubber->AddCredential(stored->view());
    }
    const SecureBuffer* refresh_token = grant_ != Grant::kRefreshToken ? nullptr
                                        : stored.has_value()
                                            ? &*stored
                                            : &fields.at("refresh_token");
    if (grant_ == Grant::kJwtBearer) {
      LK_ASSIGN_OR_RETURN(assertion, Assertion(fields, context.now));
      scrubber->AddCredential(assertion.view());
      // The assertion is base64url: nothing to percent-encode, and the
      // reserved body never reallocates.
      body.reserve(128 + assertion.size());
      absl::StrAppend(&body, "grant_type=", PercentEncode(kJwtBearerGrant),
                      "&assertion=", assertion.view());
    } else {
      AppendSecretGrant(fields, refresh_token, &token_request);
    }
    absl::StatusOr<TokenResponse> response = context.fetch(token_request);
    CleanseString(&body);
    assertion.Clear();
    if (!response.ok()) {
      return absl::UnavailableError(
          absl::StrCat("could not reach the OAuth2 token endpoint: ",
                       response.status().message()));
    }
    SecureBuffer rotated;
    LK_ASSIGN_OR_RETURN(
        DerivedToken token,
        TokenFromJson(&*response, "access_token", context.now, absl::Hours(1),
                      refresh_token != nullptr ? &rotated : nullptr));
    if (!rotated.empty() && rotated.view() != refresh_token->view()) {
      scrubber->AddCredential(rotated.view());
      KeepRotated(rotated, context);
    }
    // Store the expiry pulled in by the margin, so the cache replaces the
    // token in time.
    token.expires -= OAuth2RefreshMargin(token.expires - context.now);
    return token;
  }

  // KeepRotated persists a refresh token the endpoint rotated: many
  // providers invalidate the old one at once, so it must survive a
  // restart. A failure to store it is logged (never the token) rather than
  // failing a request that already has its access token.
  void KeepRotated(const SecureBuffer& rotated,
                   const AuthContext& context) const {
    if (!context.save_state) return;
    absl::Status saved = context.save_state(kRotatedRefreshToken, rotated);
    if (!saved.ok()) {
      LogWarning("oauth2_refresh_token_not_persisted",
                 {{"secret", context.cache_key},
                  {"error", std::string(saved.message())}});
    }
  }

  // AppendSecretGrant writes the client-credentials or refresh-token form
  // and the client authentication.
  void AppendSecretGrant(const Fields& fields,
                         const SecureBuffer* refresh_token,
                         OutgoingRequest* token_request) const {
    const SecureBuffer& client_secret = fields.at("client_secret");
    std::string& body = token_request->body;
    // Reserve the worst case so the secret-bearing body never reallocates
    // (a reallocation would leave an uncleansed copy behind).
    size_t capacity =
        512 + 3 * (config_.client_id().size() + client_secret.size() +
                   config_.audience().size());
    for (const std::string& scope : config_.scopes()) {
      capacity += 3 * (scope.size() + 1);
    }
    if (refresh_token != nullptr) capacity += 3 * refresh_token->size();
    body.reserve(capacity);
    if (refresh_token != nullptr) {
      std::string encoded = PercentEncode(refresh_token->view());
      absl::StrAppend(&body,
                      "grant_type=refresh_token&refresh_token=", encoded);
      CleanseString(&encoded);
    } else {
      body = "grant_type=client_credentials";
    }
    if (!config_.scopes().empty()) {
      absl::StrAppend(&body, "&scope=",
                      PercentEncode(absl::StrJoin(config_.scopes(), " ")));
    }
    if (!config_.audience().empty()) {
      absl::StrAppend(&body, "&audience=", PercentEncode(config_.audience()));
    }
    if (config_.client_auth() == "post") {
      std::string encoded = PercentEncode(client_secret.view());
      absl::StrAppend(&body, "&client_id=", PercentEncode(config_.client_id()),
                      "&client_secret=", encoded);
      CleanseString(&encoded);
    } else {
      // client_secret_basic: both parts form-encoded first (RFC 6749 2.3.1).
      std::string id = PercentEncode(config_.client_id());
      std::string secret = PercentEncode(client_secret.view());
      SecureBuffer pair = SecureConcat(id + ":", secret, "");
      CleanseString(&secret);
      SecureBuffer encoded = Base64EncodeSecure(pair.view());
      token_request->credential_headers.emplace_back(
          "Authorization", SecureConcat("Basic ", encoded.view(), ""));
    }
  }

  v1::OAuth2Auth config_;
  TokenEndpoint endpoint_;
  Grant grant_;
};

}  // namespace

absl::Duration OAuth2RefreshMargin(absl::Duration lifetime) {
  return std::min(absl::Minutes(1), lifetime / 2);
}

absl::StatusOr<std::unique_ptr<AuthScheme>> MakeOAuth2(
    const v1::OAuth2Auth& config) {
  LK_ASSIGN_OR_RETURN(TokenEndpoint endpoint,
                      ParseTokenUrl(config.token_url()));
  if (!config.grant().empty() && config.grant() != "client_credentials" &&
      config.grant() != "refresh_token" && config.grant() != "jwt_bearer") {
    return absl::InvalidArgumentError(
        "oauth2 grant must be client_credentials, refresh_token or "
        "jwt_bearer");
  }
  const bool jwt_bearer = config.grant() == "jwt_bearer";
  if (config.client_id().empty() && !jwt_bearer) {
    return absl::InvalidArgumentError("oauth2 auth needs a client_id");
  }
  if (jwt_bearer && config.scopes().empty()) {
    return absl::InvalidArgumentError(
        "the oauth2 jwt_bearer grant needs scopes (they go in the assertion)");
  }
  if (!config.subject().empty() && !jwt_bearer) {
    return absl::InvalidArgumentError(
        "oauth2 subject is only for the jwt_bearer grant");
  }
  if (!config.client_auth().empty() && config.client_auth() != "basic" &&
      config.client_auth() != "post") {
    return absl::InvalidArgumentError(
        "oauth2 client_auth must be basic (client_secret_basic) or post");
  }
  for (const std::string& scope : config.scopes()) {
    if (scope.empty() || scope.find_first_of(" \"\\") != std::string::npos) {
      return absl::InvalidArgumentError(
          "oauth2 scopes are single words without spaces or quotes");
    }
  }
  return std::unique_ptr<AuthScheme>(
      new OAuth2Scheme(config, std::move(endpoint)));
}

}  // namespace latchkey::vault::auth
