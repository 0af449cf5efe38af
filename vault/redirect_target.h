// ParseRedirectTarget decides whether the vault may follow one redirect.
// The vault follows redirects itself (never CURLOPT_FOLLOWLOCATION) so that
// each hop goes through the same checks as the first request: the target
// must be the very origin the secret is bound to (scheme, host and port, no
// userinfo), its path must pass the broker's path normalizer, and the
// caller re-resolves and re-checks the address before connecting. The
// credential therefore never leaves its origin.
#ifndef LATCHKEY_VAULT_REDIRECT_TARGET_H_
#define LATCHKEY_VAULT_REDIRECT_TARGET_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/origin.h"

namespace latchkey::vault {

// The most redirects a capability may allow (EgressLimits.max_redirects).
inline constexpr int kMaxRedirectsCap = 10;

struct RedirectTarget {
  std::string path;                                        // normalized
  std::vector<std::pair<std::string, std::string>> query;  // decoded
};

// IsRedirectStatus: the statuses whose Location the vault may follow.
bool IsRedirectStatus(int status);

// ParseRedirectTarget takes the absolute URL curl resolved from Location.
// PERMISSION_DENIED (with a message saying why) for another origin,
// userinfo, or a path the normalizer refuses.
absl::StatusOr<RedirectTarget> ParseRedirectTarget(absl::string_view url,
                                                   const Origin& origin);

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_REDIRECT_TARGET_H_
