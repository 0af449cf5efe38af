#include "vault/auth/token_cache.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace latchkey::vault {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

TokenCache::Fetch Issue(const std::string& token, absl::Time expires,
                        std::atomic<int>* calls) {
  return [=]() -> absl::StatusOr<DerivedToken> {
    calls->fetch_add(1);
    return DerivedToken{SecureBuffer::CopyOf(token), expires};
  };
}

TEST(TokenCacheTest, CachesUntilShortlyBeforeExpiry) {
  TokenCache cache;
  std::atomic<int> calls{0};
  const absl::Duration margin = absl::Minutes(5);
  auto first = cache.Get("s@1", kT0, margin,
                         Issue("tok-1", kT0 + absl::Hours(1), &calls));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->view(), "tok-1");
  // 54 minutes later: still more than 5 minutes left, served from cache.
  auto cached = cache.Get("s@1", kT0 + absl::Minutes(54), margin,
                          Issue("tok-2", kT0 + absl::Hours(2), &calls));
  EXPECT_EQ(cached->view(), "tok-1");
  EXPECT_EQ(calls.load(), 1);
  // 56 minutes later: within the margin, refreshed.
  auto refreshed = cache.Get("s@1", kT0 + absl::Minutes(56), margin,
                             Issue("tok-2", kT0 + absl::Hours(2), &calls));
  EXPECT_EQ(refreshed->view(), "tok-2");
  EXPECT_EQ(calls.load(), 2);
}

TEST(TokenCacheTest, FetchErrorsAndStaleTokensAreNotCached) {
  TokenCache cache;
  auto failed = cache.Get("s@1", kT0, absl::Minutes(1),
                          []() -> absl::StatusOr<DerivedToken> {
                            return absl::UnavailableError("endpoint down");
                          });
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  std::atomic<int> calls{0};
  auto stale = cache.Get("s@1", kT0, absl::Minutes(1),
                         Issue("tok", kT0 + absl::Seconds(30), &calls));
  EXPECT_FALSE(stale.ok());
  EXPECT_EQ(cache.size(), 0u);
}

TEST(TokenCacheTest, ClearAndDropSecretForgetTokens) {
  TokenCache cache;
  std::atomic<int> calls{0};
  for (const char* key : {"a@1", "a@2", "ab@1"}) {
    ASSERT_TRUE(cache
                    .Get(key, kT0, absl::Minutes(1),
                         Issue("tok", kT0 + absl::Hours(1), &calls))
                    .ok());
  }
  EXPECT_EQ(cache.size(), 3u);
  cache.DropSecret("a");
  EXPECT_EQ(cache.size(), 1u);  // "ab@1" is another secret.
  cache.Clear();
  EXPECT_EQ(cache.size(), 0u);
  ASSERT_TRUE(cache
                  .Get("ab@1", kT0, absl::Minutes(1),
                       Issue("tok", kT0 + absl::Hours(1), &calls))
                  .ok());
  EXPECT_EQ(calls.load(), 4);
}

TEST(TokenCacheTest, ClearDuringFetchDoesNotRepopulate) {
  TokenCache cache;
  auto fetch = [&]() -> absl::StatusOr<DerivedToken> {
    cache.Clear();  // a Seal while the token endpoint is being asked
    return DerivedToken{SecureBuffer::CopyOf("tok"), kT0 + absl::Hours(1)};
  };
  auto got = cache.Get("s@1", kT0, absl::Minutes(1), fetch);
  ASSERT_TRUE(got.ok());  // this caller still gets its answer
  EXPECT_EQ(cache.size(), 0u);
}

TEST(TokenCacheTest, ConcurrentCallersShareOneFetch) {
  TokenCache cache;
  std::atomic<int> calls{0};
  absl::Notification release;
  auto slow_fetch = [&]() -> absl::StatusOr<DerivedToken> {
    calls.fetch_add(1);
    // Bounded wait: the test fails rather than hangs if nobody releases.
    release.WaitForNotificationWithTimeout(absl::Seconds(10));
    return DerivedToken{SecureBuffer::CopyOf("shared"), kT0 + absl::Hours(1)};
  };
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto got = cache.Get("s@1", kT0, absl::Minutes(5), slow_fetch);
      if (got.ok() && got->view() == "shared") ok.fetch_add(1);
    });
  }
  // Let the callers pile up behind the first fetch, then release it.
  for (int i = 0; i < 200 && calls.load() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  absl::SleepFor(absl::Milliseconds(50));
  release.Notify();
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(cache.fetches(), 1u);
}

}  // namespace
}  // namespace latchkey::vault
