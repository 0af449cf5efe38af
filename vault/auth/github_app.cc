#include "vault/auth/github_app.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "vault/auth/auth_util.h"
#include "vault/auth/rs256_jwt.h"
#include "vault/auth/token_endpoint.h"

namespace latchkey::vault::auth {
namespace {

constexpr char kDefaultApiOrigin[] = "https://api.github.com";
// Replace the installation token this long before it expires.
constexpr absl::Duration kRefreshBefore = absl::Minutes(5);

constexpr char kKeyFormat[] =
    "the secret value must be the GitHub App's PEM private key "
    "(-----BEGIN RSA PRIVATE KEY-----), as downloaded from the app's "
    "settings";

bool IsDigits(absl::string_view text) {
  if (text.empty() || text.size() > 20) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

class GitHubAppScheme final : public AuthScheme {
 public:
  GitHubAppScheme(v1::GitHubAppAuth config, TokenEndpoint endpoint)
      : config_(std::move(config)), endpoint_(std::move(endpoint)) {}

  absl::Status ValidateSecret(const SecureBuffer& secret) const override {
    if (!IsRsaPrivateKeyPem(secret)) {
      return absl::InvalidArgumentError(kKeyFormat);
    }
    return absl::OkStatus();
  }

  absl::Status Apply(const SecureBuffer& secret, const AuthContext& context,
                     OutgoingRequest* request,
                     ResponseScrubber* scrubber) const override {
    LK_RETURN_IF_ERROR(RequireTokenPlumbing(context));
    LK_RETURN_IF_ERROR(RequireBound(endpoint_, context));
    LK_RETURN_IF_ERROR(RefuseHeaderCollision(*request, "Authorization"));
    LK_ASSIGN_OR_RETURN(
        SecureBuffer token,
        context.tokens->Get(context.cache_key, context.now, kRefreshBefore,
                            [&]() { return Fetch(secret, context); }));
    scrubber->AddCredential(token.view());
    return AddCredentialHeader("Authorization",
                               SecureConcat("Bearer ", token.view(), ""),
                               request, scrubber);
  }

 private:
  absl::StatusOr<DerivedToken> Fetch(const SecureBuffer& secret,
                                     const AuthContext& context) const {
    absl::StatusOr<SecureBuffer> jwt =
        GitHubAppJwt(secret, config_.app_id(), context.now);
    if (!jwt.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(jwt.status().message(), "; replace it with PutSecret"));
    }
    OutgoingRequest token_request = NewTokenRequest(endpoint_, context, "POST");
    token_request.headers = {{"Accept", "application/vnd.github+json"},
                             {"X-GitHub-Api-Version", "2022-11-28"},
                             {"User-Agent", "latchkey-vault"}};
    token_request.credential_headers.emplace_back(
        "Authorization", SecureConcat("Bearer ", jwt->view(), ""));
    absl::StatusOr<TokenResponse> response = context.fetch(token_request);
    if (!response.ok()) {
      return absl::UnavailableError(
          absl::StrCat("could not reach GitHub for an installation token: ",
                       response.status().message()));
    }
    // Installation tokens live one hour; GitHub says when in expires_at.
    return TokenFromJson(&*response, "token", context.now, absl::Hours(1));
  }

  v1::GitHubAppAuth config_;
  TokenEndpoint endpoint_;
};

}  // namespace

absl::StatusOr<SecureBuffer> GitHubAppJwt(const SecureBuffer& private_key_pem,
                                          const std::string& app_id,
                                          absl::Time now) {
  const int64_t now_s = absl::ToUnixSeconds(now);
  absl::StatusOr<SecureBuffer> jwt =
      SignRs256Jwt(private_key_pem, R"({"alg":"RS256","typ":"JWT"})",
                   absl::StrCat(R"({"iat":)", now_s - 60, R"(,"exp":)",
                                now_s + 540, R"(,"iss":")", app_id, R"("})"));
  if (jwt.status().code() == absl::StatusCode::kInvalidArgument) {
    return absl::InvalidArgumentError(kKeyFormat);
  }
  return jwt;
}

absl::StatusOr<std::unique_ptr<AuthScheme>> MakeGitHubApp(
    const v1::GitHubAppAuth& config) {
  if (!IsDigits(config.app_id()) || !IsDigits(config.installation_id())) {
    return absl::InvalidArgumentError(
        "github_app auth needs the numeric app_id and installation_id (see "
        "the app's settings page and the installation's URL)");
  }
  const std::string api =
      config.api_origin().empty() ? kDefaultApiOrigin : config.api_origin();
  LK_ASSIGN_OR_RETURN(
      TokenEndpoint endpoint,
      ParseTokenUrl(absl::StrCat(api, "/app/installations/",
                                 config.installation_id(), "/access_tokens")));
  return std::unique_ptr<AuthScheme>(
      new GitHubAppScheme(config, std::move(endpoint)));
}

}  // namespace latchkey::vault::auth
