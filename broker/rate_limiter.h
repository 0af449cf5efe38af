// RateLimiter: token buckets per agent, per capability and per session.
// A request takes one token from each bucket that applies, all or none:
// when any bucket is empty nothing is taken and the refusal names that
// bucket and when it will hold a token again.
#ifndef LATCHKEY_BROKER_RATE_LIMITER_H_
#define LATCHKEY_BROKER_RATE_LIMITER_H_

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "broker/session_registry.h"
#include "proto/broker.pb.h"

namespace latchkey::broker {

struct RateLimitRefusal {
  // limit names the bucket, e.g. "agent 'bot' rate limit (60 per minute,
  // burst 10)".
  std::string limit;
  absl::Duration retry_after;
};

class RateLimiter {
 public:
  explicit RateLimiter(Clock clock = absl::Now) : clock_(std::move(clock)) {}

  struct Bucket {
    // key identifies the bucket, e.g. "agent:bot"; name is for people.
    std::string key;
    std::string name;
    v1::RateLimit limit;  // requests_per_minute 0: unlimited, skipped.
  };
  // Acquire takes a token from every bucket or returns the first that is
  // empty.
  std::optional<RateLimitRefusal> Acquire(const std::vector<Bucket>& buckets);

  // Forget drops buckets whose key starts with `prefix` (for example a
  // session that ended).
  void Forget(absl::string_view prefix);

 private:
  // Buckets are pruned when there are more than this many; a full bucket
  // is the same as a fresh one, so pruning those loses nothing.
  static constexpr size_t kPruneAbove = 10'000;

  struct State {
    double tokens = 0;
    double capacity = 0;
    double per_second = 0;
    absl::Time updated;
  };
  void PruneLocked(absl::Time now);  // mu_ held

  Clock clock_;
  std::mutex mu_;
  std::map<std::string, State> buckets_;  // guarded by mu_
};

// RateLimitText renders a limit: "60 per minute, burst 10".
std::string RateLimitText(const v1::RateLimit& limit);

}  // namespace latchkey::broker

#endif  // LATCHKEY_BROKER_RATE_LIMITER_H_
