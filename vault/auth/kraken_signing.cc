#include "vault/auth/kraken_signing.h"

#include <atomic>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/crypto.h"
#include "common/status_macros.h"
#include "vault/auth/auth_util.h"

namespace latchkey::vault::auth {
namespace {

constexpr char kFormType[] = "application/x-www-form-urlencoded";

bool IsKeyId(absl::string_view key) {
  if (key.empty() || key.size() > 128) return false;
  for (char c : key) {
    if (!absl::ascii_isgraph(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// CheckFormBody: the body Kraken signs is a form; an agent's own "nonce"
// would be signed next to the vault's and confuse the server.
absl::Status CheckFormBody(OutgoingRequest* request) {
  bool typed = false;
  for (const auto& [name, value] : request->headers) {
    if (!absl::EqualsIgnoreCase(name, "content-type")) continue;
    typed = true;
    if (!absl::StartsWithIgnoreCase(absl::StripAsciiWhitespace(value),
                                    kFormType)) {
      return absl::InvalidArgumentError(
          "Kraken signs a form body: send Content-Type "
          "application/x-www-form-urlencoded (or none)");
    }
  }
  for (absl::string_view pair :
       absl::StrSplit(request->body, '&', absl::SkipEmpty())) {
    absl::string_view name = pair.substr(0, pair.find('='));
    if (PercentDecode(name, true) == "nonce") {
      return absl::InvalidArgumentError(
          "form field 'nonce' is set by the capability's credential and may "
          "not be sent by the agent");
    }
  }
  if (!typed) request->headers.emplace_back("Content-Type", kFormType);
  return absl::OkStatus();
}

class KrakenSigningScheme final : public AuthScheme {
 public:
  explicit KrakenSigningScheme(v1::KrakenAuth config)
      : config_(std::move(config)) {}

  absl::Status ValidateSecret(const SecureBuffer& secret) const override {
    absl::StatusOr<SecureBuffer> key = Base64Decode(secret.view());
    if (!key.ok() || key->empty()) {
      return absl::InvalidArgumentError(
          "the Kraken private key must be base64, as Kraken shows it");
    }
    return absl::OkStatus();
  }

  bool SignsBody(const OutgoingRequest&) const override { return true; }

  absl::Status Apply(const SecureBuffer& secret, const AuthContext& context,
                     OutgoingRequest* request,
                     ResponseScrubber* scrubber) const override {
    if (request->method != "POST") {
      return absl::InvalidArgumentError(absl::StrCat(
          "Kraken signs POST requests only (its private API); ",
          request->method, " needs no credential (a public endpoint)"));
    }
    absl::StatusOr<SecureBuffer> key = Base64Decode(secret.view());
    if (!key.ok() || key->empty()) {
      return absl::FailedPreconditionError(
          "the stored Kraken private key is not base64; replace it with "
          "PutSecret");
    }
    LK_RETURN_IF_ERROR(CheckFormBody(request));
    LK_RETURN_IF_ERROR(RefuseHeaderCollision(*request, "API-Key"));
    const std::string nonce =
        context.nonce.empty()
            ? absl::StrCat(NextKrakenNonce(absl::ToUnixMillis(context.now)))
            : context.nonce;
    // The nonce goes first in the body, and the body as sent is signed.
    request->body = absl::StrCat(
        "nonce=", nonce, request->body.empty() ? "" : "&", request->body);
    std::string mac =
        Hmac("sha512", key->view(),
             absl::StrCat(request->path,
                          Sha256(absl::StrCat(nonce, request->body))));
    SecureBuffer signature = Base64EncodeSecure(mac);
    CleanseString(&mac);
    scrubber->AddCredential(secret.view());
    scrubber->AddCredential(key->view());
    LK_RETURN_IF_ERROR(AddPlainHeader("API-Key", config_.key_id(), request));
    return AddCredentialHeader("API-Sign", std::move(signature), request,
                               scrubber);
  }

 private:
  v1::KrakenAuth config_;
};

}  // namespace

uint64_t NextKrakenNonce(int64_t now_ms) {
  static std::atomic<uint64_t> last{0};
  const uint64_t now = now_ms > 0 ? static_cast<uint64_t>(now_ms) : 0;
  uint64_t seen = last.load();
  uint64_t next;
  do {
    next = now > seen ? now : seen + 1;
  } while (!last.compare_exchange_weak(seen, next));
  return next;
}

absl::StatusOr<std::unique_ptr<AuthScheme>> MakeKrakenSigning(
    const v1::KrakenAuth& config) {
  if (!IsKeyId(config.key_id())) {
    return absl::InvalidArgumentError(
        "kraken auth needs key_id, the public API key (printable, no spaces)");
  }
  return std::unique_ptr<AuthScheme>(new KrakenSigningScheme(config));
}

}  // namespace latchkey::vault::auth
