// Shamir secret sharing over GF(2^8) (the AES field, polynomial 0x11b), and
// the text form of a share that operators copy around.
//
// Split draws a random polynomial of degree threshold-1 per secret byte
// whose constant term is that byte and hands out its values at x = 1..n.
// Any `threshold` shares determine the polynomial (Lagrange interpolation
// at x = 0); fewer reveal nothing about the secret. Field arithmetic is
// branch-free and table-free so that timing does not depend on share bytes.
//
// Buffer lifetimes: shares and the recombined secret are SecureBuffers,
// zeroized when their owner drops them. The random coefficients live in a
// SecureBuffer for the duration of Split only.
#ifndef LATCHKEY_VAULT_SHAMIR_H_
#define LATCHKEY_VAULT_SHAMIR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/secure_buffer.h"

namespace latchkey::vault {

struct ShamirShare {
  uint8_t index = 0;   // the x coordinate, 1..255.
  SecureBuffer bytes;  // the y values, one per secret byte.
};

// Split splits `secret` into `shares` shares, any `threshold` of which
// recover it. 1 <= threshold <= shares <= 255.
absl::StatusOr<std::vector<ShamirShare>> ShamirSplit(const SecureBuffer& secret,
                                                     uint32_t shares,
                                                     uint32_t threshold);

// Combine interpolates the secret from shares with distinct, non-zero
// indices and equal lengths. With fewer than the threshold, or a wrong
// share, it returns a wrong value: callers must verify the result (the
// vault opens the keyring with it).
absl::StatusOr<SecureBuffer> ShamirCombine(
    const std::vector<const ShamirShare*>& shares);

// Text form: "lks1-<index>-<hex bytes>-<checksum>", the checksum being the
// first 4 bytes of SHA-256("latchkey.share.v1" || index || bytes), so that
// a mistyped share is caught when it is submitted, without reference to any
// other share. The checksum says nothing about whether the share belongs to
// this vault; only recombination can tell that.
std::string EncodeShare(const ShamirShare& share);
// DecodeShare parses the text form; INVALID_ARGUMENT for a malformed share
// or a wrong checksum. The decoded bytes go straight to secure memory.
absl::StatusOr<ShamirShare> DecodeShare(absl::string_view text);

// Field operations, exposed for tests.
uint8_t Gf256Mul(uint8_t a, uint8_t b);
uint8_t Gf256Inv(uint8_t a);  // Gf256Inv(0) == 0.

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_SHAMIR_H_
