#include "vault/scrypt_kdf.h"

#include <openssl/evp.h>

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"
#include "common/status_macros.h"
#include "vault/aead.h"

namespace latchkey::vault {
namespace {

constexpr char kWrapAad[] = "latchkey.rootkey.passphrase.v1";
// Refuse parameters that would let a tampered store make the vault
// allocate unbounded memory: 1 GiB covers N = 2^20, r = 8.
constexpr uint64_t kMaxScryptMemory = uint64_t{1} << 30;

}  // namespace

absl::StatusOr<SecureBuffer> Scrypt(absl::string_view passphrase,
                                    absl::string_view salt,
                                    const ScryptParams& params,
                                    size_t key_bytes) {
  if (params.n < 2 || (params.n & (params.n - 1)) != 0 || params.r == 0 ||
      params.p == 0) {
    return absl::InvalidArgumentError(
        "scrypt N must be a power of two > 1 and r, p positive");
  }
  // OpenSSL needs 128*r*(N+2) bytes for V plus 128*r*p for B.
  const uint64_t needed = uint64_t{128} * params.r * (params.n + 2) +
                          uint64_t{128} * params.r * params.p;
  if (needed > kMaxScryptMemory) {
    return absl::InvalidArgumentError("scrypt parameters need too much memory");
  }
  SecureBuffer key(key_bytes);
  if (EVP_PBE_scrypt(passphrase.data(), passphrase.size(),
                     reinterpret_cast<const unsigned char*>(salt.data()),
                     salt.size(), params.n, params.r, params.p, needed + 4096,
                     key.data(), key.size()) != 1) {
    return absl::InvalidArgumentError("scrypt derivation failed");
  }
  return key;
}

std::string WrappedRootKey::Serialize() const {
  return absl::StrCat("scrypt$", params.n, "$", params.r, "$", params.p, "$",
                      HexEncode(salt), "$", HexEncode(sealed_root_key));
}

absl::StatusOr<WrappedRootKey> WrappedRootKey::Parse(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, '$');
  WrappedRootKey wrapped;
  if (parts.size() != 6 || parts[0] != "scrypt" ||
      !absl::SimpleAtoi(parts[1], &wrapped.params.n) ||
      !absl::SimpleAtoi(parts[2], &wrapped.params.r) ||
      !absl::SimpleAtoi(parts[3], &wrapped.params.p)) {
    return absl::DataLossError("stored passphrase wrapping is corrupt");
  }
  absl::StatusOr<std::string> salt = HexDecode(parts[4]);
  absl::StatusOr<std::string> sealed = HexDecode(parts[5]);
  if (!salt.ok() || !sealed.ok()) {
    return absl::DataLossError("stored passphrase wrapping is corrupt");
  }
  wrapped.salt = *salt;
  wrapped.sealed_root_key = *sealed;
  return wrapped;
}

absl::StatusOr<WrappedRootKey> WrapRootKey(const SecureBuffer& root_key,
                                           absl::string_view passphrase,
                                           const ScryptParams& params) {
  WrappedRootKey wrapped;
  wrapped.params = params;
  LK_ASSIGN_OR_RETURN(wrapped.salt, RandomBytes(kScryptSaltBytes));
  // kek: lives until this function returns.
  LK_ASSIGN_OR_RETURN(SecureBuffer kek,
                      Scrypt(passphrase, wrapped.salt, params, kAeadKeyBytes));
  LK_ASSIGN_OR_RETURN(wrapped.sealed_root_key,
                      Seal(kek, root_key.view(), kWrapAad));
  return wrapped;
}

absl::StatusOr<SecureBuffer> UnwrapRootKey(const WrappedRootKey& wrapped,
                                           absl::string_view passphrase) {
  // kek: lives until this function returns.
  LK_ASSIGN_OR_RETURN(SecureBuffer kek, Scrypt(passphrase, wrapped.salt,
                                               wrapped.params, kAeadKeyBytes));
  absl::StatusOr<SecureBuffer> root =
      Open(kek, wrapped.sealed_root_key, kWrapAad);
  if (!root.ok()) {
    return absl::PermissionDeniedError("passphrase is not valid");
  }
  return root;
}

}  // namespace latchkey::vault
