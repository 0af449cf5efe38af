#include "broker/rate_limiter.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace latchkey::broker {
namespace {

v1::RateLimit Limit(uint32_t per_minute, uint32_t burst = 0) {
  v1::RateLimit limit;
  limit.set_requests_per_minute(per_minute);
  limit.set_burst(burst);
  return limit;
}

class RateLimiterTest : public ::testing::Test {
 protected:
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
  RateLimiter limiter_{[this] { return now_; }};
};

TEST_F(RateLimiterTest, BurstThenRefillAtTheRate) {
  std::vector<RateLimiter::Bucket> b = {{"agent:a", "agent 'a'", Limit(60, 3)}};
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter_.Acquire(b).has_value());
  std::optional<RateLimitRefusal> refused = limiter_.Acquire(b);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->retry_after, absl::Seconds(1));
  EXPECT_TRUE(absl::StrContains(refused->limit, "agent 'a'"));
  EXPECT_TRUE(absl::StrContains(refused->limit, "60 per minute, burst 3"));
  now_ += absl::Milliseconds(500);
  refused = limiter_.Acquire(b);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->retry_after, absl::Milliseconds(500));
  now_ += absl::Milliseconds(500);
  EXPECT_FALSE(limiter_.Acquire(b).has_value());
}

TEST_F(RateLimiterTest, ZeroMeansUnlimited) {
  std::vector<RateLimiter::Bucket> b = {{"x", "x", Limit(0)}};
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(limiter_.Acquire(b).has_value());
}

TEST_F(RateLimiterTest, AllOrNothingAcrossBuckets) {
  std::vector<RateLimiter::Bucket> both = {
      {"agent:a", "agent 'a'", Limit(60, 5)},
      {"session:s", "session", Limit(60, 1)}};
  EXPECT_FALSE(limiter_.Acquire(both).has_value());
  std::optional<RateLimitRefusal> refused = limiter_.Acquire(both);
  ASSERT_TRUE(refused.has_value());
  EXPECT_TRUE(absl::StrContains(refused->limit, "session"));
  // The refused request took nothing from the agent bucket: 4 remain.
  std::vector<RateLimiter::Bucket> agent = {both[0]};
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(limiter_.Acquire(agent).has_value());
  EXPECT_TRUE(limiter_.Acquire(agent).has_value());
}

TEST_F(RateLimiterTest, ForgetDropsBucketsByPrefix) {
  std::vector<RateLimiter::Bucket> b = {{"session:s1", "session", Limit(1, 1)}};
  EXPECT_FALSE(limiter_.Acquire(b).has_value());
  EXPECT_TRUE(limiter_.Acquire(b).has_value());
  limiter_.Forget("session:s1");
  EXPECT_FALSE(limiter_.Acquire(b).has_value());
}

}  // namespace
}  // namespace latchkey::broker
