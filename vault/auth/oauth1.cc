#include "vault/auth/oauth1.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/secure_buffer.h"
#include "common/status_macros.h"
#include "vault/auth/auth_util.h"

namespace latchkey::vault::auth {
namespace {

bool IsFormBody(const OutgoingRequest& request) {
  for (const auto& [name, value] : request.headers) {
    if (absl::EqualsIgnoreCase(name, "Content-Type") &&
        absl::StartsWithIgnoreCase(absl::StripAsciiWhitespace(value),
                                   "application/x-www-form-urlencoded")) {
      return true;
    }
  }
  return false;
}

class OAuth1Scheme final : public AuthScheme {
 public:
  explicit OAuth1Scheme(v1::OAuth1Auth config) : config_(std::move(config)) {}

  absl::Status ValidateSecret(const SecureBuffer& secret) const override {
    return SecretFields(secret, {"consumer_secret"}, {"token_secret"}).status();
  }

  // A form body's parameters are part of the signature base string.
  bool SignsBody(const OutgoingRequest& request) const override {
    return IsFormBody(request);
  }

  absl::Status Apply(const SecureBuffer& secret, const AuthContext& context,
                     OutgoingRequest* request,
                     ResponseScrubber* scrubber) const override {
    absl::StatusOr<std::map<std::string, SecureBuffer>> parsed =
        SecretFields(secret, {"consumer_secret"}, {"token_secret"});
    if (!parsed.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          parsed.status().message(), "; replace it with PutSecret"));
    }
    for (const auto& [name, value] : request->query) {
      if (absl::StartsWith(name, "oauth_")) {
        return absl::InvalidArgumentError(absl::StrCat(
            "query parameter '", name,
            "' is reserved for the capability's OAuth 1.0a credential"));
      }
    }
    LK_RETURN_IF_ERROR(RefuseHeaderCollision(*request, "Authorization"));

    std::vector<std::pair<std::string, std::string>> oauth = {
        {"oauth_consumer_key", config_.consumer_key()},
        {"oauth_signature_method", "HMAC-SHA1"},
        {"oauth_timestamp", absl::StrCat(absl::ToUnixSeconds(context.now))},
        {"oauth_nonce", context.nonce.empty() ? RandomNonce() : context.nonce},
    };
    if (!config_.token().empty()) {
      oauth.emplace_back("oauth_token", config_.token());
    }
    if (!config_.omit_version()) oauth.emplace_back("oauth_version", "1.0");

    const SecureBuffer& consumer_secret = (*parsed)["consumer_secret"];
    auto token_secret = parsed->find("token_secret");
    absl::string_view token_view = token_secret == parsed->end()
                                       ? absl::string_view()
                                       : token_secret->second.view();
    std::string encoded_consumer = PercentEncode(consumer_secret.view());
    std::string encoded_token = PercentEncode(token_view);
    SecureBuffer key = SecureConcat(encoded_consumer, "&", encoded_token);
    CleanseString(&encoded_consumer);
    CleanseString(&encoded_token);
    const std::string signature = Base64Encode(
        Hmac("sha1", key.view(), OAuth1BaseString(*request, oauth)));
    oauth.emplace_back("oauth_signature", signature);

    std::string header = "OAuth ";
    if (!config_.realm().empty()) {
      absl::StrAppend(&header, "realm=\"", PercentEncode(config_.realm()),
                      "\", ");
    }
    for (size_t i = 0; i < oauth.size(); ++i) {
      absl::StrAppend(&header, i == 0 ? "" : ", ", oauth[i].first, "=\"",
                      PercentEncode(oauth[i].second), "\"");
    }
    scrubber->AddCredential(consumer_secret.view());
    if (!token_view.empty()) scrubber->AddCredential(token_view);
    scrubber->AddCredential(signature);
    absl::Status added = AddCredentialHeader(
        "Authorization", SecureBuffer::CopyOf(header), request, scrubber);
    CleanseString(&header);
    return added;
  }

 private:
  v1::OAuth1Auth config_;
};

}  // namespace

std::string OAuth1BaseString(
    const OutgoingRequest& request,
    const std::vector<std::pair<std::string, std::string>>& oauth_params) {
  std::vector<std::pair<std::string, std::string>> params;
  for (const auto& [name, value] : request.query) {
    params.emplace_back(PercentEncode(name), PercentEncode(value));
  }
  if (IsFormBody(request)) {
    for (absl::string_view pair :
         absl::StrSplit(request.body, '&', absl::SkipEmpty())) {
      std::pair<absl::string_view, absl::string_view> nv =
          absl::StrSplit(pair, absl::MaxSplits('=', 1));
      params.emplace_back(PercentEncode(PercentDecode(nv.first, true)),
                          PercentEncode(PercentDecode(nv.second, true)));
    }
  }
  for (const auto& [name, value] : oauth_params) {
    params.emplace_back(PercentEncode(name), PercentEncode(value));
  }
  std::sort(params.begin(), params.end());
  std::string normalized;
  for (const auto& [name, value] : params) {
    absl::StrAppend(&normalized, normalized.empty() ? "" : "&", name, "=",
                    value);
  }
  // Base string URI: lower-case scheme and host, default port left out.
  const std::string base_uri =
      absl::StrCat(request.origin.substr(0, request.origin.find("://") + 3),
                   HostHeader(request.origin), request.path);
  return absl::StrCat(request.method, "&", PercentEncode(base_uri), "&",
                      PercentEncode(normalized));
}

absl::StatusOr<std::unique_ptr<AuthScheme>> MakeOAuth1(
    const v1::OAuth1Auth& config) {
  if (config.consumer_key().empty()) {
    return absl::InvalidArgumentError(
        "oauth1 auth needs a consumer_key (the client identifier)");
  }
  return std::unique_ptr<AuthScheme>(new OAuth1Scheme(config));
}

}  // namespace latchkey::vault::auth
