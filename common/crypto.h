// Small cryptographic helpers over OpenSSL shared by every daemon.
#ifndef LATCHKEY_COMMON_CRYPTO_H_
#define LATCHKEY_COMMON_CRYPTO_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace latchkey {

// RandomBytes returns `n` bytes from OpenSSL's CSPRNG.
absl::StatusOr<std::string> RandomBytes(size_t n);

// Sha256 returns the 32-byte digest; Sha256Hex its lower-case hex form.
std::string Sha256(absl::string_view data);
std::string Sha256Hex(absl::string_view data);

// HmacSha256 returns the 32-byte MAC of `data` under `key`.
std::string HmacSha256(absl::string_view key, absl::string_view data);

// ConstantTimeEquals compares secrets, MACs and token hashes without
// leaking the position of the first difference (CRYPTO_memcmp).
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

// HexEncode / HexDecode use lower-case hex; HexDecode accepts either case.
std::string HexEncode(absl::string_view bytes);
absl::StatusOr<std::string> HexDecode(absl::string_view hex);

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_CRYPTO_H_
