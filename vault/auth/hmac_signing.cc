#include "vault/auth/hmac_signing.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "common/crypto.h"
#include "common/status_macros.h"
#include "vault/auth/auth_util.h"

namespace latchkey::vault::auth {
namespace {

constexpr char kDefaultTemplate[] = "{timestamp}{method}{path_query}{body}";

// One piece of the parsed template: literal text or a placeholder.
struct Piece {
  bool placeholder;
  std::string text;
};

class HmacSigningScheme final : public AuthScheme {
 public:
  HmacSigningScheme(v1::HmacSigningAuth config, std::vector<Piece> pieces)
      : config_(std::move(config)), pieces_(std::move(pieces)) {
    needs_nonce_ = !config_.nonce_header().empty();
    for (const Piece& piece : pieces_) {
      needs_nonce_ =
          needs_nonce_ || (piece.placeholder && piece.text == "nonce");
    }
  }

  // {body} and {body_sha256} put the whole body in the canonical string.
  bool SignsBody(const OutgoingRequest&) const override {
    for (const Piece& piece : pieces_) {
      if (piece.placeholder &&
          (piece.text == "body" || piece.text == "body_sha256")) {
        return true;
      }
    }
    return false;
  }

  absl::Status Apply(const SecureBuffer& secret, const AuthContext& context,
                     OutgoingRequest* request,
                     ResponseScrubber* scrubber) const override {
    SecureBuffer decoded;
    if (config_.secret_is_base64()) {
      absl::StatusOr<SecureBuffer> key = Base64Decode(secret.view());
      if (!key.ok()) {
        return absl::FailedPreconditionError(
            "the stored HMAC key is not base64; replace it with PutSecret");
      }
      decoded = std::move(*key);
    }
    const SecureBuffer& key = config_.secret_is_base64() ? decoded : secret;

    std::string timestamp;
    const std::string& unit = config_.timestamp_unit();
    if (unit == "ms") {
      timestamp = absl::StrCat(absl::ToUnixMillis(context.now));
    } else if (unit == "iso8601") {
      timestamp = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", context.now,
                                   absl::UTCTimeZone());
    } else {
      timestamp = absl::StrCat(absl::ToUnixSeconds(context.now));
    }
    std::string nonce;
    if (needs_nonce_) {
      nonce = context.nonce.empty() ? RandomNonce() : context.nonce;
    }

    // Parameters the scheme adds to the query are in place before the
    // canonical string is built, since most APIs sign them too.
    if (!config_.timestamp_query_param().empty()) {
      LK_RETURN_IF_ERROR(
          RefuseQueryCollision(*request, config_.timestamp_query_param()));
      request->query.emplace_back(config_.timestamp_query_param(), timestamp);
    }
    if (!config_.signature_query_param().empty()) {
      LK_RETURN_IF_ERROR(
          RefuseQueryCollision(*request, config_.signature_query_param()));
    }

    std::string canonical;
    const std::string query = WireQuery(*request);
    for (const Piece& piece : pieces_) {
      if (!piece.placeholder) {
        canonical += piece.text;
      } else if (piece.text == "timestamp") {
        canonical += timestamp;
      } else if (piece.text == "method") {
        canonical += request->method;
      } else if (piece.text == "path") {
        canonical += request->path;
      } else if (piece.text == "query") {
        canonical += query;
      } else if (piece.text == "path_query") {
        absl::StrAppend(&canonical, request->path, query.empty() ? "" : "?",
                        query);
      } else if (piece.text == "body") {
        canonical += request->body;
      } else if (piece.text == "body_sha256") {
        canonical += Sha256Hex(request->body);
      } else if (piece.text == "key_id") {
        canonical += config_.key_id();
      } else if (piece.text == "nonce") {
        canonical += nonce;
      }
    }
    const std::string digest =
        config_.algorithm().empty() ? "sha256" : config_.algorithm();
    std::string mac = Hmac(digest, key.view(), canonical);
    std::string signature =
        config_.encoding() == "base64" ? Base64Encode(mac) : HexEncode(mac);
    CleanseString(&mac);

    scrubber->AddCredential(secret.view());
    if (config_.secret_is_base64()) scrubber->AddCredential(key.view());
    if (!config_.timestamp_header().empty()) {
      LK_RETURN_IF_ERROR(
          AddPlainHeader(config_.timestamp_header(), timestamp, request));
    }
    if (!config_.key_id_header().empty()) {
      LK_RETURN_IF_ERROR(
          AddPlainHeader(config_.key_id_header(), config_.key_id(), request));
    }
    if (!config_.nonce_header().empty()) {
      LK_RETURN_IF_ERROR(
          AddPlainHeader(config_.nonce_header(), nonce, request));
    }
    absl::Status added = absl::OkStatus();
    if (!config_.signature_header().empty()) {
      added = AddCredentialHeader(config_.signature_header(),
                                  SecureBuffer::CopyOf(signature), request,
                                  scrubber);
    } else {
      scrubber->AddCredential(signature);
      request->credential_query.emplace_back(config_.signature_query_param(),
                                             SecureBuffer::CopyOf(signature));
    }
    CleanseString(&signature);
    return added;
  }

 private:
  v1::HmacSigningAuth config_;
  std::vector<Piece> pieces_;
  bool needs_nonce_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<AuthScheme>> MakeHmacSigning(
    const v1::HmacSigningAuth& config) {
  if (config.signature_header().empty() ==
      config.signature_query_param().empty()) {
    return absl::InvalidArgumentError(
        "hmac auth needs exactly one of signature_header (e.g. X-Signature) "
        "or signature_query_param (e.g. signature)");
  }
  for (const std::string* name :
       {&config.signature_header(), &config.signature_query_param(),
        &config.timestamp_header(), &config.timestamp_query_param(),
        &config.key_id_header(), &config.nonce_header()}) {
    if (!name->empty() && !IsNameToken(*name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "hmac auth: '", *name,
          "' is not a valid header or parameter name (letters, digits, - _)"));
    }
  }
  if (!config.key_id_header().empty() && config.key_id().empty()) {
    return absl::InvalidArgumentError(
        "hmac auth: key_id_header is set but key_id is empty");
  }
  if (!config.algorithm().empty() && config.algorithm() != "sha256" &&
      config.algorithm() != "sha512") {
    return absl::InvalidArgumentError(
        "hmac auth: algorithm must be sha256 or sha512");
  }
  if (!config.encoding().empty() && config.encoding() != "hex" &&
      config.encoding() != "base64") {
    return absl::InvalidArgumentError(
        "hmac auth: encoding must be hex or base64");
  }
  if (!config.timestamp_unit().empty() && config.timestamp_unit() != "s" &&
      config.timestamp_unit() != "ms" && config.timestamp_unit() != "iso8601") {
    return absl::InvalidArgumentError(
        "hmac auth: timestamp_unit must be s, ms or iso8601");
  }
  // "\n" in the template (hard to type in a shell flag) means a newline.
  std::string templ = absl::StrReplaceAll(config.canonical_template().empty()
                                              ? kDefaultTemplate
                                              : config.canonical_template(),
                                          {{"\\n", "\n"}});
  std::vector<Piece> pieces;
  size_t at = 0;
  while (at < templ.size()) {
    size_t open = templ.find('{', at);
    if (open == std::string::npos) {
      pieces.push_back({false, templ.substr(at)});
      break;
    }
    if (open > at) pieces.push_back({false, templ.substr(at, open - at)});
    size_t close = templ.find('}', open);
    std::string name = close == std::string::npos
                           ? ""
                           : templ.substr(open + 1, close - open - 1);
    static const char* const kKnown[] = {"timestamp",   "method",     "path",
                                         "query",       "path_query", "body",
                                         "body_sha256", "key_id",     "nonce"};
    bool known = false;
    for (const char* k : kKnown) known = known || name == k;
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "hmac auth: canonical_template has an unknown placeholder at "
          "offset ",
          open,
          "; use {timestamp} {method} {path} {query} {path_query} {body} "
          "{body_sha256} {key_id} {nonce}"));
    }
    pieces.push_back({true, name});
    at = close + 1;
  }
  return std::unique_ptr<AuthScheme>(
      new HmacSigningScheme(config, std::move(pieces)));
}

}  // namespace latchkey::vault::auth
