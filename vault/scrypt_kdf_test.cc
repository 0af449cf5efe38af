#include "vault/scrypt_kdf.h"

#include "common/crypto.h"
#include "gtest/gtest.h"

namespace latchkey::vault {
namespace {

struct Vector {
  const char* passphrase;
  const char* salt;
  ScryptParams params;
  const char* expected_hex;
};

// RFC 7914 section 12. The fourth vector (N = 2^20, 1 GiB) is left out to
// keep the test small; the three below exercise r, p and N.
TEST(ScryptTest, Rfc7914Vectors) {
  const Vector vectors[] = {
      {"",
       "",
       {16, 1, 1},
       "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
       "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906"},
      {"password",
       "NaCl",
       {1024, 8, 16},
       "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
       "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"},
      {"pleaseletmein",
       "SodiumChloride",
       {16384, 8, 1},
       "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
       "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887"},
  };
  for (const Vector& v : vectors) {
    auto key = Scrypt(v.passphrase, v.salt, v.params, 64);
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_EQ(HexEncode(key->view()), v.expected_hex) << v.passphrase;
  }
}

TEST(ScryptTest, DefaultsAreStrong) {
  EXPECT_EQ(kDefaultScryptParams.n, uint64_t{1} << 17);
  EXPECT_EQ(kDefaultScryptParams.r, 8u);
  EXPECT_EQ(kDefaultScryptParams.p, 1u);
}

TEST(ScryptTest, RefusesBadOrHugeParameters) {
  EXPECT_EQ(Scrypt("pw", "salt", {1000, 8, 1}, 32).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Scrypt("pw", "salt", {uint64_t{1} << 24, 8, 1}, 32).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(WrapTest, WrapUnwrapAndWrongPassphrase) {
  const ScryptParams cheap{1024, 8, 1};
  SecureBuffer root = SecureBuffer::Random(32);
  auto wrapped = WrapRootKey(root, "correct horse battery", cheap);
  ASSERT_TRUE(wrapped.ok()) << wrapped.status();
  EXPECT_EQ(wrapped->salt.size(), kScryptSaltBytes);
  std::string text = wrapped->Serialize();
  EXPECT_EQ(text.rfind("scrypt$1024$8$1$", 0), 0u) << text;
  auto parsed = WrappedRootKey::Parse(text);
  ASSERT_TRUE(parsed.ok());
  auto unwrapped = UnwrapRootKey(*parsed, "correct horse battery");
  ASSERT_TRUE(unwrapped.ok());
  EXPECT_EQ(unwrapped->view(), root.view());
  EXPECT_EQ(UnwrapRootKey(*parsed, "wrong horse battery").status().code(),
            absl::StatusCode::kPermissionDenied);
  // Tampered parameters derive another key: refused, not misused.
  WrappedRootKey tampered = *parsed;
  tampered.params.n = 2048;
  EXPECT_EQ(UnwrapRootKey(tampered, "correct horse battery").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(WrappedRootKey::Parse("scrypt$x").status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace latchkey::vault
