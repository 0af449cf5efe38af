#include "mcp_adapter/gateway_auth.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "common/crypto.h"
#include "common/secure_buffer.h"
#include "mcp_adapter/http_checks.h"

namespace latchkey::mcp {

bool GatewayCredentialMatches(absl::string_view authorization,
                              absl::string_view token) {
  if (token.empty()) return false;
  if (BearerMatches(authorization, token)) return true;
  // AWS tools sign every request themselves and cannot add a header: they
  // present the token as their access key id (AWS_ACCESS_KEY_ID), which
  // SigV4 sends in clear in "Credential=<key id>/<scope>". The signature
  // is not checked (the client's secret key is not a secret) and the
  // header is discarded; the vault signs again with the real key.
  constexpr absl::string_view kSigV4 = "AWS4-HMAC-SHA256 ";
  if (absl::StartsWith(authorization, kSigV4)) {
    absl::string_view rest = authorization.substr(kSigV4.size());
    size_t start = rest.find("Credential=");
    if (start == absl::string_view::npos) return false;
    rest = rest.substr(start + 11);
    absl::string_view key_id = rest.substr(0, rest.find('/'));
    return ConstantTimeEquals(Sha256(key_id), Sha256(token));
  }
  if (authorization.size() < 6 ||
      !absl::EqualsIgnoreCase(authorization.substr(0, 6), "basic ")) {
    return false;
  }
  std::string decoded;
  if (!absl::Base64Unescape(absl::StripAsciiWhitespace(authorization.substr(6)),
                            &decoded)) {
    return false;
  }
  size_t colon = decoded.find(':');
  bool match = false;
  if (colon != std::string::npos) {
    absl::string_view password = absl::string_view(decoded).substr(colon + 1);
    // Hashed first so that the comparison does not depend on the length of
    // what was presented.
    match = ConstantTimeEquals(Sha256(password), Sha256(token));
  }
  CleanseString(&decoded);
  return match;
}

}  // namespace latchkey::mcp
