#include "vault/auth/oauth2.h"

#include <map>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "vault/auth/auth_util.h"
#include "vault/auth/token_endpoint.h"

namespace latchkey::vault::auth {
namespace {

// The cache margin is chosen when the token is fetched; the cache asks for
// one fixed margin, so short-lived tokens are stored with their expiry
// pulled in (see Fetch) and the cache margin is zero.
class OAuth2Scheme final : public AuthScheme {
 public:
  OAuth2Scheme(v1::OAuth2Auth config, TokenEndpoint endpoint)
      : config_(std::move(config)),
        endpoint_(std::move(endpoint)),
        refresh_grant_(config_.grant() == "refresh_token") {}

  absl::Status ValidateSecret(const SecureBuffer& secret) const override {
    return Fields(secret).status();
  }

  absl::Status Apply(const SecureBuffer& secret, const AuthContext& context,
                     OutgoingRequest* request,
                     ResponseScrubber* scrubber) const override {
    LK_RETURN_IF_ERROR(RequireTokenPlumbing(context));
    LK_RETURN_IF_ERROR(RequireBound(endpoint_, context));
    LK_RETURN_IF_ERROR(RefuseHeaderCollision(*request, "Authorization"));
    absl::StatusOr<std::map<std::string, SecureBuffer>> fields = Fields(secret);
    if (!fields.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          fields.status().message(), "; replace it with PutSecret"));
    }
    for (const auto& [name, value] : *fields) {
      scrubber->AddCredential(value.view());
    }
    LK_ASSIGN_OR_RETURN(SecureBuffer token,
                        context.tokens->Get(context.cache_key, context.now,
                                            absl::ZeroDuration(), [&]() {
                                              return Fetch(*fields, context);
                                            }));
    scrubber->AddCredential(token.view());
    return AddCredentialHeader("Authorization",
                               SecureConcat("Bearer ", token.view(), ""),
                               request, scrubber);
  }

 private:
  absl::StatusOr<std::map<std::string, SecureBuffer>> Fields(
      const SecureBuffer& secret) const {
    if (refresh_grant_) {
      return SecretFields(secret, {"client_secret", "refresh_token"}, {});
    }
    return SecretFields(secret, {"client_secret"}, {});
  }

  absl::StatusOr<DerivedToken> Fetch(
      const std::map<std::string, SecureBuffer>& fields,
      const AuthContext& context) const {
    OutgoingRequest token_request = NewTokenRequest(endpoint_, context, "POST");
    token_request.headers = {
        {"Content-Type", "application/x-www-form-urlencoded"},
        {"Accept", "application/json"}};
    const SecureBuffer& client_secret = fields.at("client_secret");
    std::string& body = token_request.body;
    // Reserve the worst case so the secret-bearing body never reallocates
    // (a reallocation would leave an uncleansed copy behind).
    size_t capacity =
        512 + 3 * (config_.client_id().size() + client_secret.size() +
                   config_.audience().size());
    for (const std::string& scope : config_.scopes()) {
      capacity += 3 * (scope.size() + 1);
    }
    if (refresh_grant_) capacity += 3 * fields.at("refresh_token").size();
    body.reserve(capacity);
    if (refresh_grant_) {
      std::string encoded = PercentEncode(fields.at("refresh_token").view());
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
      token_request.credential_headers.emplace_back(
          "Authorization", SecureConcat("Basic ", encoded.view(), ""));
    }
    absl::StatusOr<TokenResponse> response = context.fetch(token_request);
    CleanseString(&body);
    if (!response.ok()) {
      return absl::UnavailableError(
          absl::StrCat("could not reach the OAuth2 token endpoint: ",
                       response.status().message()));
    }
    LK_ASSIGN_OR_RETURN(
        DerivedToken token,
        TokenFromJson(&*response, "access_token", context.now, absl::Hours(1)));
    // Store the expiry pulled in by the margin, so the cache replaces the
    // token in time.
    token.expires -= OAuth2RefreshMargin(token.expires - context.now);
    return token;
  }

  v1::OAuth2Auth config_;
  TokenEndpoint endpoint_;
  bool refresh_grant_;
};

}  // namespace

absl::Duration OAuth2RefreshMargin(absl::Duration lifetime) {
  return std::min(absl::Minutes(1), lifetime / 2);
}

absl::StatusOr<std::unique_ptr<AuthScheme>> MakeOAuth2(
    const v1::OAuth2Auth& config) {
  LK_ASSIGN_OR_RETURN(TokenEndpoint endpoint,
                      ParseTokenUrl(config.token_url()));
  if (config.client_id().empty()) {
    return absl::InvalidArgumentError("oauth2 auth needs a client_id");
  }
  if (!config.grant().empty() && config.grant() != "client_credentials" &&
      config.grant() != "refresh_token") {
    return absl::InvalidArgumentError(
        "oauth2 grant must be client_credentials or refresh_token");
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
