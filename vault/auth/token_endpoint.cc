#include "vault/auth/token_endpoint.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/limits.h"
#include "common/origin.h"
#include "nlohmann/json.hpp"

namespace latchkey::vault::auth {
namespace {

// A short OAuth error code ("invalid_client") is safe to repeat; anything
// else from the upstream is not.
std::string SafeErrorCode(const nlohmann::json& doc) {
  if (!doc.is_object() || !doc.contains("error") || !doc["error"].is_string()) {
    return "";
  }
  const std::string& code = doc["error"].get_ref<const std::string&>();
  if (code.size() > 64) return "";
  for (char c : code) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' &&
        c != '-' && c != '.') {
      return "";
    }
  }
  return code;
}

void CleanseJson(nlohmann::json* doc) {
  if (doc->is_string()) {
    CleanseString(&doc->get_ref<std::string&>());
  } else if (doc->is_object() || doc->is_array()) {
    for (auto& child : *doc) CleanseJson(&child);
  }
}

}  // namespace

absl::StatusOr<TokenEndpoint> ParseTokenUrl(absl::string_view url) {
  size_t scheme_end = url.find("://");
  size_t path_start = scheme_end == absl::string_view::npos
                          ? absl::string_view::npos
                          : url.find('/', scheme_end + 3);
  if (path_start == absl::string_view::npos || absl::StrContains(url, "?") ||
      absl::StrContains(url, "#")) {
    return absl::InvalidArgumentError(
        "token URL must be scheme://host[:port]/path without a query, e.g. "
        "https://auth.example.com/oauth/token");
  }
  absl::StatusOr<Origin> origin = ParseOrigin(url.substr(0, path_start));
  if (!origin.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("token URL: ", origin.status().message()));
  }
  TokenEndpoint endpoint;
  endpoint.origin = origin->ToString();
  endpoint.path = std::string(url.substr(path_start));
  return endpoint;
}

absl::Status RequireBound(const TokenEndpoint& endpoint,
                          const AuthContext& context) {
  if (std::find(context.bound_origins.begin(), context.bound_origins.end(),
                endpoint.origin) == context.bound_origins.end()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the token endpoint's origin ", endpoint.origin,
        " is not one of the secret's origins; add it with PutSecret "
        "(--origin) if the credential may be sent there"));
  }
  return absl::OkStatus();
}

OutgoingRequest NewTokenRequest(const TokenEndpoint& endpoint,
                                const AuthContext& context,
                                absl::string_view method) {
  OutgoingRequest request;
  request.method = std::string(method);
  request.origin = endpoint.origin;
  request.path = endpoint.path;
  request.ca_bundle_pem = context.ca_bundle_pem;
  return request;
}

absl::StatusOr<DerivedToken> TokenFromJson(TokenResponse* response,
                                           absl::string_view token_field,
                                           absl::Time now,
                                           absl::Duration default_lifetime,
                                           SecureBuffer* refresh_token) {
  if (refresh_token != nullptr) refresh_token->Clear();
  nlohmann::json doc = nlohmann::json::parse(response->body, nullptr,
                                             /*allow_exceptions=*/false);
  CleanseString(&response->body);
  absl::StatusOr<DerivedToken> result;
  const std::string field(token_field);
  if (response->status < 200 || response->status > 299) {
    std::string code = SafeErrorCode(doc);
    result = absl::UnavailableError(
        absl::StrCat("the token endpoint answered HTTP ", response->status,
                     code.empty() ? "" : absl::StrCat(" (", code, ")"),
                     "; check the client id, secret and scopes"));
  } else if (!doc.is_object() || !doc.contains(field) ||
             !doc[field].is_string() ||
             doc[field].get_ref<std::string&>().empty() ||
             doc[field].get_ref<std::string&>().size() >
                 kMaxDerivedTokenBytes) {
    result = absl::UnavailableError(absl::StrCat(
        "the token endpoint's answer has no usable '", field, "'"));
  } else {
    DerivedToken token;
    token.token = SecureBuffer::CopyOf(doc[field].get_ref<std::string&>());
    token.expires = now + default_lifetime;
    if (doc.contains("expires_in") && doc["expires_in"].is_number()) {
      double seconds = doc["expires_in"].get<double>();
      token.expires = now + absl::Seconds(std::max(0.0, seconds));
    } else if (doc.contains("expires_at") && doc["expires_at"].is_string()) {
      absl::Time at;
      std::string error;
      if (absl::ParseTime(absl::RFC3339_full,
                          doc["expires_at"].get_ref<std::string&>(), &at,
                          &error)) {
        token.expires = at;
      }
    }
    if (refresh_token != nullptr && doc.contains("refresh_token") &&
        doc["refresh_token"].is_string() &&
        !doc["refresh_token"].get_ref<std::string&>().empty() &&
        doc["refresh_token"].get_ref<std::string&>().size() <=
            kMaxDerivedTokenBytes) {
      *refresh_token =
          SecureBuffer::CopyOf(doc["refresh_token"].get_ref<std::string&>());
    }
    result = std::move(token);
  }
  CleanseJson(&doc);
  return result;
}

absl::Status RequireTokenPlumbing(const AuthContext& context) {
  if (context.tokens == nullptr || !context.fetch ||
      context.cache_key.empty()) {
    return absl::FailedPreconditionError(
        "this auth scheme fetches tokens and can only be used by the vault's "
        "egress service");
  }
  return absl::OkStatus();
}

}  // namespace latchkey::vault::auth
