#include "vault/shamir.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"

namespace latchkey::vault {
namespace {

constexpr char kSharePrefix[] = "lks1";
constexpr size_t kChecksumBytes = 4;

// Checksum covers the index and bytes; the digest is not secret-bearing
// beyond its 4 published bytes, and is cleansed anyway.
std::string ShareChecksum(uint8_t index, absl::string_view bytes) {
  // EVP, not the SHA256_* calls OpenSSL 3 deprecates; the share is hashed
  // in place (no copy of it), and EVP_MD_CTX_free cleanses the context.
  static constexpr char kLabel[] = "latchkey.share.v1";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx != nullptr &&
            EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx, kLabel, sizeof(kLabel) - 1) == 1 &&
            EVP_DigestUpdate(ctx, &index, 1) == 1 &&
            EVP_DigestUpdate(ctx, bytes.data(), bytes.size()) == 1 &&
            EVP_DigestFinal_ex(ctx, digest, &digest_length) == 1;
  EVP_MD_CTX_free(ctx);
  // Without a digest no checksum can match: such a share is refused.
  if (!ok || digest_length < kChecksumBytes) return std::string();
  std::string out(reinterpret_cast<char*>(digest), kChecksumBytes);
  OPENSSL_cleanse(digest, sizeof(digest));
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

uint8_t Gf256Mul(uint8_t a, uint8_t b) {
  uint8_t result = 0;
  for (int i = 0; i < 8; ++i) {
    // Masks instead of branches: constant time in a and b.
    result ^= static_cast<uint8_t>(-(b & 1)) & a;
    uint8_t high = static_cast<uint8_t>(-(a >> 7));
    a = static_cast<uint8_t>((a << 1) ^ (0x1b & high));
    b >>= 1;
  }
  return result;
}

uint8_t Gf256Inv(uint8_t a) {
  // a^254 = a^-1 in GF(2^8) (and 0 for 0): square-and-multiply over the
  // fixed exponent, so the sequence of operations does not depend on a.
  uint8_t result = 1;
  uint8_t power = a;
  for (int bit = 1; bit < 8; ++bit) {  // 254 = 0b11111110
    power = Gf256Mul(power, power);
    result = Gf256Mul(result, power);
  }
  return result;
}

absl::StatusOr<std::vector<ShamirShare>> ShamirSplit(const SecureBuffer& secret,
                                                     uint32_t shares,
                                                     uint32_t threshold) {
  if (threshold < 1 || threshold > shares || shares > 255) {
    return absl::InvalidArgumentError(
        "Shamir needs 1 <= threshold <= shares <= 255");
  }
  if (secret.empty()) return absl::InvalidArgumentError("empty secret");
  const size_t length = secret.size();
  // coefficients[j * (threshold-1) + d] is the degree-(d+1) coefficient of
  // byte j's polynomial. Lifetime: this function only.
  SecureBuffer coefficients;
  if (threshold > 1) {
    coefficients = SecureBuffer::Random(length * (threshold - 1));
    if (coefficients.empty()) {
      return absl::InternalError("random generation failed");
    }
  }
  std::vector<ShamirShare> out;
  out.reserve(shares);
  for (uint32_t i = 1; i <= shares; ++i) {
    ShamirShare share;
    share.index = static_cast<uint8_t>(i);
    share.bytes = SecureBuffer(length);
    const uint8_t x = share.index;
    for (size_t j = 0; j < length; ++j) {
      // Horner from the highest coefficient down to the secret byte.
      uint8_t y = 0;
      for (uint32_t d = threshold - 1; d >= 1; --d) {
        y = Gf256Mul(y, x) ^ coefficients.data()[j * (threshold - 1) + d - 1];
      }
      y = Gf256Mul(y, x) ^ secret.data()[j];
      share.bytes.data()[j] = y;
    }
    out.push_back(std::move(share));
  }
  return out;
}

absl::StatusOr<SecureBuffer> ShamirCombine(
    const std::vector<const ShamirShare*>& shares) {
  if (shares.empty()) return absl::InvalidArgumentError("no shares");
  const size_t length = shares[0]->bytes.size();
  for (size_t i = 0; i < shares.size(); ++i) {
    if (shares[i]->index == 0 || shares[i]->bytes.size() != length) {
      return absl::InvalidArgumentError("malformed share");
    }
    for (size_t j = 0; j < i; ++j) {
      if (shares[i]->index == shares[j]->index) {
        return absl::InvalidArgumentError("duplicate share index");
      }
    }
  }
  SecureBuffer secret(length);
  for (size_t i = 0; i < shares.size(); ++i) {
    // Lagrange basis polynomial of share i evaluated at x = 0:
    // prod_{j != i} x_j / (x_j - x_i); subtraction is XOR in GF(2^8).
    uint8_t numerator = 1;
    uint8_t denominator = 1;
    for (size_t j = 0; j < shares.size(); ++j) {
      if (j == i) continue;
      numerator = Gf256Mul(numerator, shares[j]->index);
      denominator = Gf256Mul(denominator, shares[j]->index ^ shares[i]->index);
    }
    const uint8_t basis = Gf256Mul(numerator, Gf256Inv(denominator));
    for (size_t k = 0; k < length; ++k) {
      secret.data()[k] ^= Gf256Mul(shares[i]->bytes.data()[k], basis);
    }
  }
  return secret;
}

std::string EncodeShare(const ShamirShare& share) {
  // The returned string carries the share: callers hand it to the operator
  // once (InitResponse) and cleanse their copies.
  return absl::StrCat(
      kSharePrefix, "-", share.index, "-", HexEncode(share.bytes.view()), "-",
      HexEncode(ShareChecksum(share.index, share.bytes.view())));
}

absl::StatusOr<ShamirShare> DecodeShare(absl::string_view text) {
  const absl::Status malformed = absl::InvalidArgumentError(
      "unseal share is malformed: expected lks1-<index>-<hex>-<checksum> as "
      "printed by Init");
  std::vector<absl::string_view> parts = absl::StrSplit(text, '-');
  if (parts.size() != 4 || parts[0] != kSharePrefix) return malformed;
  uint32_t index = 0;
  if (!absl::SimpleAtoi(parts[1], &index) || index < 1 || index > 255) {
    return malformed;
  }
  absl::string_view hex = parts[2];
  if (hex.empty() || hex.size() % 2 != 0 || hex.size() > 2 * 1024 ||
      parts[3].size() != 2 * kChecksumBytes) {
    return malformed;
  }
  ShamirShare share;
  share.index = static_cast<uint8_t>(index);
  share.bytes = SecureBuffer(hex.size() / 2);
  for (size_t i = 0; i < share.bytes.size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return malformed;
    share.bytes.data()[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  absl::StatusOr<std::string> checksum = HexDecode(parts[3]);
  if (!checksum.ok() || checksum->size() != kChecksumBytes ||
      !ConstantTimeEquals(*checksum,
                          ShareChecksum(share.index, share.bytes.view()))) {
    return absl::InvalidArgumentError(
        "unseal share checksum does not match: the share was mistyped or "
        "truncated");
  }
  return share;
}

}  // namespace latchkey::vault
