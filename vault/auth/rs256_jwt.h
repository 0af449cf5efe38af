// RS256 JSON Web Tokens (RFC 7515/7519) signed with an RSA private key in
// PEM form: the one signing routine of the schemes that authenticate with
// a JWT assertion (GitHub App, OAuth2 JWT-bearer / Google service
// accounts).
#ifndef LATCHKEY_VAULT_AUTH_RS256_JWT_H_
#define LATCHKEY_VAULT_AUTH_RS256_JWT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/secure_buffer.h"

namespace latchkey::vault::auth {

// IsRsaPrivateKeyPem: `pem` parses as an RSA private key (PKCS#1
// "BEGIN RSA PRIVATE KEY" or PKCS#8 "BEGIN PRIVATE KEY"), unencrypted.
bool IsRsaPrivateKeyPem(const SecureBuffer& pem);

// SignRs256Jwt returns base64url(header_json) "." base64url(claims_json)
// "." base64url(RSASSA-PKCS1-v1_5 SHA-256 signature), in secure memory.
// The caller builds both JSON texts (with "alg":"RS256" in the header).
// INVALID_ARGUMENT when the key is not an RSA private key; the error never
// quotes the key.
absl::StatusOr<SecureBuffer> SignRs256Jwt(const SecureBuffer& private_key_pem,
                                          absl::string_view header_json,
                                          absl::string_view claims_json);

// Base64Url is unpadded base64url (RFC 4648 section 5), as JWTs use.
std::string Base64Url(absl::string_view bytes);

}  // namespace latchkey::vault::auth

#endif  // LATCHKEY_VAULT_AUTH_RS256_JWT_H_
