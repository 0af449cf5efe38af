#include "vault/auth/multi_part_secret.h"

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "vault/auth/auth_util.h"

namespace latchkey::vault::auth {
namespace {

constexpr char kPlaceholder[] = "{secret}";

// One extra header: its name and the text around the field's value.
struct PartHeader {
  std::string name;
  std::string field;
  std::string prefix;
  std::string suffix;
};

bool IsFieldName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '_') {
      return false;
    }
  }
  return true;
}

class MultiPartSecretScheme final : public AuthScheme {
 public:
  MultiPartSecretScheme(std::unique_ptr<AuthScheme> inner,
                        std::string secret_field,
                        std::vector<PartHeader> headers)
      : inner_(std::move(inner)),
        secret_field_(std::move(secret_field)),
        headers_(std::move(headers)) {
    fields_.push_back(secret_field_);
    for (const PartHeader& header : headers_) fields_.push_back(header.field);
  }

  absl::Status ValidateSecret(const SecureBuffer& secret) const override {
    LK_ASSIGN_OR_RETURN(auto parts, SecretFields(secret, fields_, {}));
    return inner_->ValidateSecret(parts.at(secret_field_));
  }

  bool SignsBody(const OutgoingRequest& request) const override {
    return inner_->SignsBody(request);
  }

  absl::Status Apply(const SecureBuffer& secret, const AuthContext& context,
                     OutgoingRequest* request,
                     ResponseScrubber* scrubber) const override {
    absl::StatusOr<std::map<std::string, SecureBuffer>> parts =
        SecretFields(secret, fields_, {});
    if (!parts.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          parts.status().message(), "; replace it with PutSecret"));
    }
    // Every part is a credential: none may come back to the agent.
    for (const auto& [name, value] : *parts) {
      scrubber->AddCredential(value.view());
    }
    // The extra headers go on first, so a scheme that signs its headers
    // signs them as sent.
    for (const PartHeader& header : headers_) {
      LK_RETURN_IF_ERROR(RefuseHeaderCollision(*request, header.name));
      LK_RETURN_IF_ERROR(AddCredentialHeader(
          header.name,
          SecureConcat(header.prefix, parts->at(header.field).view(),
                       header.suffix),
          request, scrubber));
    }
    return inner_->Apply(parts->at(secret_field_), context, request, scrubber);
  }

 private:
  std::unique_ptr<AuthScheme> inner_;
  std::string secret_field_;
  std::vector<PartHeader> headers_;
  std::vector<std::string> fields_;  // every field named, secret first.
};

}  // namespace

bool UsesMultiPartSecret(const v1::AuthScheme& config) {
  return !config.secret_field().empty() || config.secret_headers_size() > 0;
}

absl::StatusOr<std::unique_ptr<AuthScheme>> WrapMultiPartSecret(
    const v1::AuthScheme& config, std::unique_ptr<AuthScheme> inner) {
  switch (config.scheme_case()) {
    case v1::AuthScheme::kAwsSigv4:
    case v1::AuthScheme::kOauth1:
    case v1::AuthScheme::kOauth2:
      return absl::InvalidArgumentError(
          "secret_field and secret_headers are for schemes that take one "
          "secret; aws_sigv4, oauth1 and oauth2 read a JSON secret with "
          "fields of their own");
    default:
      break;
  }
  if (!IsFieldName(config.secret_field())) {
    return absl::InvalidArgumentError(
        "a multi-part secret needs secret_field, the JSON field the scheme "
        "signs or sends with (lower-case letters, digits, _; at most 64)");
  }
  std::vector<PartHeader> headers;
  std::set<std::string> names = {config.secret_field()};
  for (const v1::SecretHeader& header : config.secret_headers()) {
    if (!IsNameToken(header.name()) || !IsFieldName(header.field())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "secret_headers: each needs a header name (letters, digits, - _) "
          "and a field name (lower-case letters, digits, _); got '",
          header.name(), "' / '", header.field(), "'"));
    }
    if (!names.insert(header.field()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("secret_headers: field '", header.field(),
                       "' is used twice (each part is sent once)"));
    }
    const std::string templ = header.value_template().empty()
                                  ? kPlaceholder
                                  : header.value_template();
    const size_t at = templ.find(kPlaceholder);
    if (at == std::string::npos ||
        templ.find(kPlaceholder, at + 1) != std::string::npos ||
        absl::StrContains(templ, "\r") || absl::StrContains(templ, "\n")) {
      return absl::InvalidArgumentError(
          absl::StrCat("secret_headers: the value template of '", header.name(),
                       "' needs exactly one {secret} and no line breaks"));
    }
    headers.push_back({header.name(), header.field(), templ.substr(0, at),
                       templ.substr(at + sizeof(kPlaceholder) - 1)});
  }
  return std::unique_ptr<AuthScheme>(new MultiPartSecretScheme(
      std::move(inner), config.secret_field(), std::move(headers)));
}

}  // namespace latchkey::vault::auth
