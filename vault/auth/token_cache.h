// TokenCache keeps the tokens the vault derives from a secret (OAuth2
// access tokens, GitHub installation tokens) in secure memory, keyed by
// secret version ("id@version"), until shortly before they expire.
//
// - Single flight: concurrent requests for a stale key wait for one fetch.
// - Clear (on Seal) zeroizes every token and bumps a generation, so a fetch
//   that was in flight across the Seal does not repopulate the cache.
// - DropSecret (on PutSecret/DeleteSecret) zeroizes one secret's tokens.
#ifndef LATCHKEY_VAULT_AUTH_TOKEN_CACHE_H_
#define LATCHKEY_VAULT_AUTH_TOKEN_CACHE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/secure_buffer.h"

namespace latchkey::vault {

struct DerivedToken {
  SecureBuffer token;
  absl::Time expires;
};

class TokenCache {
 public:
  using Fetch = std::function<absl::StatusOr<DerivedToken>()>;

  // Get returns a copy of the token for `key` if it is still valid at
  // `now + refresh_before`; otherwise runs `fetch` (once, however many
  // callers wait) and caches what it returns.
  absl::StatusOr<SecureBuffer> Get(const std::string& key, absl::Time now,
                                   absl::Duration refresh_before,
                                   const Fetch& fetch);
  // Clear zeroizes every cached token (Seal).
  void Clear();
  // DropSecret zeroizes the tokens of every version of secret `id`.
  void DropSecret(absl::string_view id);
  size_t size() const;
  // fetches counts completed fetches (for tests and the bench).
  uint64_t fetches() const;

 private:
  struct Entry {
    std::mutex fetch_mu;  // held by the one caller fetching this key.
    DerivedToken cached;  // guarded by TokenCache::mu_.
    bool valid = false;   // guarded by TokenCache::mu_.
  };
  // std::mutex rather than absl::Mutex: it is pthread-based, so
  // ThreadSanitizer sees it even though Debian's Abseil is not instrumented.
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;  // guarded by mu_
  uint64_t generation_ = 0;                                // guarded by mu_
  uint64_t fetches_ = 0;                                   // guarded by mu_
};

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_AUTH_TOKEN_CACHE_H_
