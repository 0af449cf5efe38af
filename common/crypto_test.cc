#include "common/crypto.h"

#include "common/secure_buffer.h"
#include "gtest/gtest.h"

namespace latchkey {
namespace {

TEST(CryptoTest, Sha256KnownAnswer) {
  // FIPS 180-2 example "abc".
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(CryptoTest, HmacSha256Rfc4231Case2) {
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(CryptoTest, HexRoundTripAndErrors) {
  std::string bytes("\x00\x01\xfe\xff", 4);
  EXPECT_EQ(HexEncode(bytes), "0001feff");
  EXPECT_EQ(*HexDecode("0001FEff"), bytes);
  EXPECT_FALSE(HexDecode("abc").ok());
  EXPECT_FALSE(HexDecode("zz").ok());
}

TEST(CryptoTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secret2"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

TEST(CryptoTest, RandomBytesAreFreshEachCall) {
  auto a = RandomBytes(32);
  auto b = RandomBytes(32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);
}

TEST(SecureBufferTest, CopyMoveAndClear) {
  SecureBuffer a = SecureBuffer::CopyOf("token-value");
  EXPECT_EQ(a.view(), "token-value");
  SecureBuffer b = std::move(a);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(b.view(), "token-value");
  b.Shrink(5);
  EXPECT_EQ(b.view(), "token");
  b.Clear();
  EXPECT_TRUE(b.empty());
}

}  // namespace
}  // namespace latchkey
