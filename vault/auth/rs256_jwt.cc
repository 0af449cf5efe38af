#include "vault/auth/rs256_jwt.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "absl/strings/str_cat.h"
#include "vault/auth/auth_util.h"

namespace latchkey::vault::auth {
namespace {

// LoadRsaKey parses the PEM private key and requires RSA; null otherwise.
// OpenSSL's error queue is cleared so no key bytes linger in its messages.
EVP_PKEY* LoadRsaKey(const SecureBuffer& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return nullptr;
  // An empty passphrase callback: an encrypted key is refused, never
  // prompted for on the vault's terminal.
  EVP_PKEY* key = PEM_read_bio_PrivateKey(
      bio, nullptr, [](char*, int, int, void*) { return 0; }, nullptr);
  BIO_free(bio);
  ERR_clear_error();
  if (key != nullptr && EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
    EVP_PKEY_free(key);
    key = nullptr;
  }
  return key;
}

}  // namespace

std::string Base64Url(absl::string_view bytes) {
  std::string out = Base64Encode(bytes);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

bool IsRsaPrivateKeyPem(const SecureBuffer& pem) {
  EVP_PKEY* key = LoadRsaKey(pem);
  EVP_PKEY_free(key);
  return key != nullptr;
}

absl::StatusOr<SecureBuffer> SignRs256Jwt(const SecureBuffer& private_key_pem,
                                          absl::string_view header_json,
                                          absl::string_view claims_json) {
  EVP_PKEY* key = LoadRsaKey(private_key_pem);
  if (key == nullptr) {
    return absl::InvalidArgumentError("not an unencrypted RSA private key");
  }
  const std::string signing_input =
      absl::StrCat(Base64Url(header_json), ".", Base64Url(claims_json));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t length = 0;
  std::string signature;
  bool ok = ctx != nullptr &&
            EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestSign(
                ctx, nullptr, &length,
                reinterpret_cast<const unsigned char*>(signing_input.data()),
                signing_input.size()) == 1;
  if (ok) {
    signature.resize(length);
    ok = EVP_DigestSign(
             ctx, reinterpret_cast<unsigned char*>(signature.data()), &length,
             reinterpret_cast<const unsigned char*>(signing_input.data()),
             signing_input.size()) == 1;
    signature.resize(length);
  }
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  ERR_clear_error();
  if (!ok) return absl::InternalError("RS256 signing failed");
  // The assertion is a bearer credential until it expires: build it in
  // secure memory (its parts are public claims and a signature).
  const std::string encoded = Base64Url(signature);
  return SecureConcat(signing_input, ".", encoded);
}

}  // namespace latchkey::vault::auth
