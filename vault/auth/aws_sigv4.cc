#include "vault/auth/aws_sigv4.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/crypto.h"
#include "common/status_macros.h"
#include "vault/auth/auth_util.h"

namespace latchkey::vault::auth {
namespace {

constexpr char kEmptySha256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

bool IsScopeToken(absl::string_view text) {
  if (text.empty() || text.size() > 64) return false;
  for (char c : text) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' &&
        c != '_') {
      return false;
    }
  }
  return true;
}

// Header values are trimmed and inner runs of spaces collapsed (SigV4's
// canonical header value).
std::string CanonicalValue(absl::string_view value) {
  std::string out;
  bool space = false;
  for (char c : absl::StripAsciiWhitespace(value)) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

// CanonicalUri: S3 encodes the decoded path once; every other service
// encodes the path as sent (so "%20" becomes "%2520").
std::string CanonicalUri(absl::string_view path, bool s3) {
  std::vector<std::string> segments;
  for (absl::string_view segment : absl::StrSplit(path, '/')) {
    segments.push_back(PercentEncode(s3 ? PercentDecode(segment, false)
                                        : std::string(segment)));
  }
  std::string uri = absl::StrJoin(segments, "/");
  return uri.empty() ? "/" : uri;
}

class AwsSigV4Scheme final : public AuthScheme {
 public:
  explicit AwsSigV4Scheme(v1::AwsSigV4Auth config)
      : config_(std::move(config)), s3_(config_.service() == "s3") {}

  absl::Status ValidateSecret(const SecureBuffer& secret) const override {
    return SecretFields(secret, {"access_key_id", "secret_access_key"},
                        {"session_token"})
        .status();
  }

  // The payload hash covers the whole body unless UNSIGNED-PAYLOAD is on.
  bool SignsBody(const OutgoingRequest&) const override {
    return !config_.unsigned_payload();
  }

  absl::Status Apply(const SecureBuffer& secret, const AuthContext& context,
                     OutgoingRequest* request,
                     ResponseScrubber* scrubber) const override {
    absl::StatusOr<std::map<std::string, SecureBuffer>> parsed = SecretFields(
        secret, {"access_key_id", "secret_access_key"}, {"session_token"});
    if (!parsed.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          parsed.status().message(), "; replace it with PutSecret"));
    }
    std::map<std::string, SecureBuffer>& fields = *parsed;
    const SecureBuffer& secret_key = fields["secret_access_key"];
    auto token = fields.find("session_token");
    const bool has_token = token != fields.end() && !token->second.empty();

    const std::string amz_date =
        absl::FormatTime("%Y%m%dT%H%M%SZ", context.now, absl::UTCTimeZone());
    const std::string date = amz_date.substr(0, 8);
    const std::string payload_hash =
        config_.unsigned_payload()
            ? "UNSIGNED-PAYLOAD"
            : (request->body.empty() ? kEmptySha256 : Sha256Hex(request->body));

    LK_RETURN_IF_ERROR(RefuseHeaderCollision(*request, "Authorization"));
    LK_RETURN_IF_ERROR(
        AddPlainHeader("Host", HostHeader(request->origin), request));
    LK_RETURN_IF_ERROR(AddPlainHeader("X-Amz-Date", amz_date, request));
    if (s3_ || config_.unsigned_payload()) {
      LK_RETURN_IF_ERROR(
          AddPlainHeader("X-Amz-Content-Sha256", payload_hash, request));
    }

    // Canonical headers: every header sent, lower-cased and sorted.
    std::map<std::string, std::string> headers;
    for (const auto& [name, value] : request->headers) {
      std::string& slot = headers[absl::AsciiStrToLower(name)];
      if (!slot.empty()) slot.push_back(',');
      slot += CanonicalValue(value);
    }
    if (has_token) {
      LK_RETURN_IF_ERROR(
          RefuseHeaderCollision(*request, "X-Amz-Security-Token"));
      headers["x-amz-security-token"] = std::string(token->second.view());
    }
    std::string canonical_headers, signed_headers;
    for (const auto& [name, value] : headers) {
      absl::StrAppend(&canonical_headers, name, ":", value, "\n");
      absl::StrAppend(&signed_headers, signed_headers.empty() ? "" : ";", name);
    }
    if (has_token) CleanseString(&headers["x-amz-security-token"]);

    std::vector<std::pair<std::string, std::string>> query;
    for (const auto& [name, value] : request->query) {
      query.emplace_back(PercentEncode(name), PercentEncode(value));
    }
    std::sort(query.begin(), query.end());
    std::string canonical_query;
    for (const auto& [name, value] : query) {
      absl::StrAppend(&canonical_query, canonical_query.empty() ? "" : "&",
                      name, "=", value);
    }

    // S3 signs its path encoded once; the same bytes go on the wire, so
    // a server that reads the canonical path from the request line (S3
    // reading a raw '+' as a space, MinIO-style servers) sees what was
    // signed. Other services sign the path as sent, encoded again.
    const std::string canonical_uri = CanonicalUri(request->path, s3_);
    if (s3_) request->path = canonical_uri;
    std::string canonical_request = absl::StrCat(
        request->method, "\n", canonical_uri, "\n", canonical_query, "\n",
        canonical_headers, "\n", signed_headers, "\n", payload_hash);
    CleanseString(&canonical_headers);
    const std::string scope = absl::StrCat(date, "/", config_.region(), "/",
                                           config_.service(), "/aws4_request");
    const std::string string_to_sign =
        absl::StrCat("AWS4-HMAC-SHA256\n", amz_date, "\n", scope, "\n",
                     Sha256Hex(canonical_request));
    CleanseString(&canonical_request);

    SecureBuffer k_secret = SecureConcat("AWS4", secret_key.view(), "");
    std::string k_date = Hmac("sha256", k_secret.view(), date);
    std::string k_region = Hmac("sha256", k_date, config_.region());
    std::string k_service = Hmac("sha256", k_region, config_.service());
    std::string k_signing = Hmac("sha256", k_service, "aws4_request");
    const std::string signature =
        HexEncode(Hmac("sha256", k_signing, string_to_sign));
    for (std::string* key : {&k_date, &k_region, &k_service, &k_signing}) {
      CleanseString(key);
    }

    scrubber->AddCredential(secret_key.view());
    scrubber->AddCredential(signature);
    if (has_token) {
      LK_RETURN_IF_ERROR(AddCredentialHeader(
          "X-Amz-Security-Token", SecureBuffer::CopyOf(token->second.view()),
          request, scrubber));
    }
    return AddCredentialHeader(
        "Authorization",
        SecureBuffer::CopyOf(absl::StrCat(
            "AWS4-HMAC-SHA256 Credential=", fields["access_key_id"].view(), "/",
            scope, ", SignedHeaders=", signed_headers,
            ", Signature=", signature)),
        request, scrubber);
  }

 private:
  v1::AwsSigV4Auth config_;
  bool s3_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<AuthScheme>> MakeAwsSigV4(
    const v1::AwsSigV4Auth& config) {
  if (!IsScopeToken(config.region()) || !IsScopeToken(config.service())) {
    return absl::InvalidArgumentError(
        "aws_sigv4 auth needs a region (e.g. us-east-1) and a service (e.g. "
        "s3, execute-api)");
  }
  return std::unique_ptr<AuthScheme>(new AwsSigV4Scheme(config));
}

}  // namespace latchkey::vault::auth
