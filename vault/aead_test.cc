#include "vault/aead.h"

#include "common/crypto.h"
#include "gtest/gtest.h"

namespace latchkey::vault {
namespace {

SecureBuffer KeyFromHex(absl::string_view hex) {
  return SecureBuffer::CopyOf(*HexDecode(hex));
}

// NIST GCM test vectors (gcmEncryptExtIV256.rsp / McGrew-Viega test cases
// 14 and 16) for AES-256.
TEST(AeadTest, NistVectorEmptyPlaintext) {
  SecureBuffer key = KeyFromHex(std::string(64, '0'));
  auto out = EncryptWithNonce(key, *HexDecode(std::string(24, '0')), "", "");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(HexEncode(out->substr(kAeadNonceBytes)),
            "530f8afbc74536b9a963b4f1c4cb738b");
}

TEST(AeadTest, NistVectorWithAad) {
  SecureBuffer key = KeyFromHex(
      "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  std::string nonce = *HexDecode("cafebabefacedbaddecaf888");
  std::string plain = *HexDecode(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
      "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
  std::string aad = *HexDecode("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  auto out = EncryptWithNonce(key, nonce, plain, aad);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(HexEncode(out->substr(kAeadNonceBytes)),
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
            "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
            "76fc6ece0f4e1768cddf8853bb2d551b");
  auto opened = Open(key, *out, aad);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->view(), plain);
}

TEST(AeadTest, SealUsesFreshNonces) {
  SecureBuffer key = SecureBuffer::CopyOf(*RandomBytes(32));
  auto a = Seal(key, "same", "ad");
  auto b = Seal(key, "same", "ad");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->substr(0, kAeadNonceBytes), b->substr(0, kAeadNonceBytes));
}

TEST(AeadTest, EveryTamperIsDataLoss) {
  SecureBuffer key = SecureBuffer::CopyOf(*RandomBytes(32));
  std::string sealed = *Seal(key, "ghp_secretvalue", "secret:demo:1");
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string bad = sealed;
    bad[i] ^= 0x01;
    EXPECT_EQ(Open(key, bad, "secret:demo:1").status().code(),
              absl::StatusCode::kDataLoss)
        << "byte " << i;
  }
  EXPECT_EQ(Open(key, sealed, "secret:demo:2").status().code(),
            absl::StatusCode::kDataLoss);
  SecureBuffer other = SecureBuffer::CopyOf(*RandomBytes(32));
  EXPECT_EQ(Open(other, sealed, "secret:demo:1").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(Open(key, sealed.substr(0, 20), "").status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace latchkey::vault
