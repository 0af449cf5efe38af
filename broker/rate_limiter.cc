#include "broker/rate_limiter.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace latchkey::broker {

std::string RateLimitText(const v1::RateLimit& limit) {
  uint32_t burst =
      limit.burst() > 0 ? limit.burst() : limit.requests_per_minute();
  return absl::StrCat(limit.requests_per_minute(), " per minute, burst ",
                      burst);
}

std::optional<RateLimitRefusal> RateLimiter::Acquire(
    const std::vector<Bucket>& buckets) {
  absl::Time now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  if (buckets_.size() > kPruneAbove) PruneLocked(now);
  std::vector<State*> states;
  states.reserve(buckets.size());
  for (const Bucket& bucket : buckets) {
    if (bucket.limit.requests_per_minute() == 0) continue;
    double per_second = bucket.limit.requests_per_minute() / 60.0;
    double capacity = bucket.limit.burst() > 0
                          ? bucket.limit.burst()
                          : bucket.limit.requests_per_minute();
    auto [it, inserted] = buckets_.try_emplace(bucket.key);
    State& state = it->second;
    if (inserted || state.capacity != capacity ||
        state.per_second != per_second) {
      // New bucket, or its limit changed: start full under the new limit
      // (keeping what was used if the bucket shrank).
      state.tokens = inserted ? capacity : std::min(state.tokens, capacity);
      state.capacity = capacity;
      state.per_second = per_second;
      state.updated = now;
    }
    double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - state.updated));
    state.tokens = std::min(capacity, state.tokens + elapsed * per_second);
    state.updated = now;
    if (state.tokens < 1.0) {
      double wait = (1.0 - state.tokens) / per_second;
      return RateLimitRefusal{absl::StrCat(bucket.name, " rate limit (",
                                           RateLimitText(bucket.limit), ")"),
                              absl::Milliseconds(std::ceil(wait * 1000.0))};
    }
    states.push_back(&state);
  }
  for (State* state : states) state->tokens -= 1.0;
  return std::nullopt;
}

void RateLimiter::Forget(absl::string_view prefix) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = buckets_.lower_bound(std::string(prefix));
       it != buckets_.end() && absl::StartsWith(it->first, prefix);) {
    it = buckets_.erase(it);
  }
}

void RateLimiter::PruneLocked(absl::Time now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    const State& s = it->second;
    double tokens =
        s.tokens + absl::ToDoubleSeconds(now - s.updated) * s.per_second;
    if (tokens >= s.capacity) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace latchkey::broker
