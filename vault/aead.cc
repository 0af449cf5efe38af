#include "vault/aead.h"

#include <openssl/evp.h>

#include <memory>

#include "common/crypto.h"

namespace latchkey::vault {
namespace {

using CipherCtx =
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

CipherCtx NewCtx() { return CipherCtx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free); }

const unsigned char* U(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

absl::StatusOr<std::string> EncryptWithNonce(const SecureBuffer& key,
                                             absl::string_view nonce,
                                             absl::string_view plaintext,
                                             absl::string_view aad) {
  if (key.size() != kAeadKeyBytes || nonce.size() != kAeadNonceBytes) {
    return absl::InternalError("AES-256-GCM needs a 32-byte key, 12-byte nonce");
  }
  CipherCtx ctx = NewCtx();
  std::string out(nonce);
  out.resize(kAeadNonceBytes + plaintext.size() + kAeadTagBytes);
  unsigned char* cipher = reinterpret_cast<unsigned char*>(out.data()) +
                          kAeadNonceBytes;
  int len = 0;
  int total = 0;
  bool ok =
      ctx != nullptr &&
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr,
                         nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kAeadNonceBytes,
                          nullptr) == 1 &&
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), U(nonce)) ==
          1 &&
      (aad.empty() || EVP_EncryptUpdate(ctx.get(), nullptr, &len, U(aad),
                                        static_cast<int>(aad.size())) == 1) &&
      EVP_EncryptUpdate(ctx.get(), cipher, &len, U(plaintext),
                        static_cast<int>(plaintext.size())) == 1;
  total = len;
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), cipher + total, &len) == 1;
  total += len;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG,
                                 kAeadTagBytes, cipher + total) == 1;
  if (!ok || static_cast<size_t>(total) != plaintext.size()) {
    return absl::InternalError("AES-256-GCM encryption failed");
  }
  return out;
}

absl::StatusOr<std::string> Seal(const SecureBuffer& key,
                                 absl::string_view plaintext,
                                 absl::string_view associated_data) {
  absl::StatusOr<std::string> nonce = RandomBytes(kAeadNonceBytes);
  if (!nonce.ok()) return nonce.status();
  return EncryptWithNonce(key, *nonce, plaintext, associated_data);
}

absl::StatusOr<SecureBuffer> Open(const SecureBuffer& key,
                                  absl::string_view sealed,
                                  absl::string_view associated_data) {
  if (key.size() != kAeadKeyBytes) {
    return absl::InternalError("AES-256-GCM needs a 32-byte key");
  }
  if (sealed.size() < kAeadNonceBytes + kAeadTagBytes) {
    return absl::DataLossError("sealed value is too short");
  }
  absl::string_view nonce = sealed.substr(0, kAeadNonceBytes);
  absl::string_view cipher = sealed.substr(
      kAeadNonceBytes, sealed.size() - kAeadNonceBytes - kAeadTagBytes);
  absl::string_view tag = sealed.substr(sealed.size() - kAeadTagBytes);

  SecureBuffer plain(cipher.size());
  CipherCtx ctx = NewCtx();
  int len = 0;
  int total = 0;
  bool ok =
      ctx != nullptr &&
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr,
                         nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kAeadNonceBytes,
                          nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), U(nonce)) ==
          1 &&
      (associated_data.empty() ||
       EVP_DecryptUpdate(ctx.get(), nullptr, &len, U(associated_data),
                         static_cast<int>(associated_data.size())) == 1) &&
      EVP_DecryptUpdate(ctx.get(), plain.data(), &len, U(cipher),
                        static_cast<int>(cipher.size())) == 1;
  total = len;
  // The tag is checked by DecryptFinal; on failure the plaintext buffer is
  // zeroized when `plain` goes out of scope and is never returned.
  ok = ok &&
       EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kAeadTagBytes,
                           const_cast<char*>(tag.data())) == 1 &&
       EVP_DecryptFinal_ex(ctx.get(), plain.data() + total, &len) == 1;
  if (!ok) {
    return absl::DataLossError(
        "authentication failed: ciphertext, nonce, tag or associated data "
        "was modified, or the key is wrong");
  }
  return plain;
}

}  // namespace latchkey::vault
