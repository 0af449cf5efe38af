#include "vault/shamir.h"

#include <functional>
#include <set>

#include "gtest/gtest.h"

namespace latchkey::vault {
namespace {

// All subsets of {0..n-1} of size k, as index vectors.
std::vector<std::vector<int>> Subsets(int n, int k) {
  std::vector<std::vector<int>> out;
  std::vector<int> current;
  std::function<void(int)> walk = [&](int start) {
    if (static_cast<int>(current.size()) == k) {
      out.push_back(current);
      return;
    }
    for (int i = start; i < n; ++i) {
      current.push_back(i);
      walk(i + 1);
      current.pop_back();
    }
  };
  walk(0);
  return out;
}

TEST(Gf256Test, FieldFacts) {
  // FIPS-197 section 4.2: {57} * {83} = {c1}; {53} and {ca} are inverses.
  EXPECT_EQ(Gf256Mul(0x57, 0x83), 0xc1);
  EXPECT_EQ(Gf256Mul(0x53, 0xca), 0x01);
  EXPECT_EQ(Gf256Inv(0x53), 0xca);
  EXPECT_EQ(Gf256Inv(0), 0);
  for (int a = 1; a < 256; ++a) {
    EXPECT_EQ(Gf256Mul(static_cast<uint8_t>(a), 1), a);
    EXPECT_EQ(
        Gf256Mul(static_cast<uint8_t>(a), Gf256Inv(static_cast<uint8_t>(a))), 1)
        << a;
  }
}

struct Split {
  uint32_t n;
  uint32_t k;
};

class ShamirSubsetTest : public ::testing::TestWithParam<Split> {};

TEST_P(ShamirSubsetTest, EveryKSubsetRecoversAndNoSmallerSubsetDoes) {
  const Split split = GetParam();
  for (int trial = 0; trial < 8; ++trial) {
    SecureBuffer key = SecureBuffer::Random(32);  // a randomized key
    auto shares = ShamirSplit(key, split.n, split.k);
    ASSERT_TRUE(shares.ok()) << shares.status();
    ASSERT_EQ(shares->size(), split.n);
    for (const auto& subset : Subsets(split.n, split.k)) {
      std::vector<const ShamirShare*> picked;
      for (int i : subset) picked.push_back(&(*shares)[i]);
      auto combined = ShamirCombine(picked);
      ASSERT_TRUE(combined.ok());
      EXPECT_EQ(combined->view(), key.view());
    }
    if (split.k < 2) continue;
    for (const auto& subset : Subsets(split.n, split.k - 1)) {
      std::vector<const ShamirShare*> picked;
      for (int i : subset) picked.push_back(&(*shares)[i]);
      auto combined = ShamirCombine(picked);
      ASSERT_TRUE(combined.ok());
      EXPECT_NE(combined->view(), key.view());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Splits, ShamirSubsetTest,
                         ::testing::Values(Split{5, 3}, Split{3, 2},
                                           Split{6, 4}, Split{7, 7},
                                           Split{1, 1}, Split{10, 5}),
                         [](const ::testing::TestParamInfo<Split>& info) {
                           return std::to_string(info.param.k) + "of" +
                                  std::to_string(info.param.n);
                         });

TEST(ShamirTest, SharesOfOneByteAreUniformlySpreadForKMinusOne) {
  // With k = 2, a single share is uniformly random whatever the secret:
  // over many splits of the same secret, share 1 takes many values.
  SecureBuffer key = SecureBuffer::CopyOf(std::string(1, '\x42'));
  std::set<int> seen;
  for (int i = 0; i < 400; ++i) {
    auto shares = ShamirSplit(key, 3, 2);
    ASSERT_TRUE(shares.ok());
    seen.insert((*shares)[0].bytes.data()[0]);
  }
  EXPECT_GT(seen.size(), 150u);
}

TEST(ShamirTest, RejectsBadParameters) {
  SecureBuffer key = SecureBuffer::Random(32);
  EXPECT_FALSE(ShamirSplit(key, 3, 4).ok());
  EXPECT_FALSE(ShamirSplit(key, 256, 3).ok());
  EXPECT_FALSE(ShamirSplit(key, 3, 0).ok());
  EXPECT_FALSE(ShamirSplit(SecureBuffer(), 3, 2).ok());
}

TEST(ShamirTest, CombineRefusesDuplicateIndexes) {
  SecureBuffer key = SecureBuffer::Random(32);
  auto shares = ShamirSplit(key, 3, 2);
  ASSERT_TRUE(shares.ok());
  EXPECT_FALSE(ShamirCombine({&(*shares)[0], &(*shares)[0]}).ok());
}

TEST(ShareEncodingTest, RoundTripsAndCatchesTypos) {
  SecureBuffer key = SecureBuffer::Random(32);
  auto shares = ShamirSplit(key, 5, 3);
  ASSERT_TRUE(shares.ok());
  std::string text = EncodeShare((*shares)[3]);
  EXPECT_EQ(text.rfind("lks1-4-", 0), 0u) << text;
  auto decoded = DecodeShare(text);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->index, 4);
  EXPECT_EQ(decoded->bytes.view(), (*shares)[3].bytes.view());

  // Every single-character typo in the share bytes is caught.
  const size_t hex_start = std::string("lks1-4-").size();
  for (size_t i = hex_start; i < hex_start + 64; ++i) {
    std::string typo = text;
    typo[i] = typo[i] == '0' ? '1' : '0';
    auto bad = DecodeShare(typo);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << i;
  }
  // A wrong index with the right bytes is caught too.
  std::string wrong_index = text;
  wrong_index[5] = '2';
  EXPECT_FALSE(DecodeShare(wrong_index).ok());
  EXPECT_FALSE(DecodeShare(text.substr(0, text.size() - 2)).ok());
  EXPECT_FALSE(DecodeShare("lks1-0-00-00000000").ok());
  EXPECT_FALSE(DecodeShare("not a share").ok());
  EXPECT_FALSE(DecodeShare("").ok());
}

}  // namespace
}  // namespace latchkey::vault
