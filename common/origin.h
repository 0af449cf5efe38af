// Origin is the (scheme, host, port) triple a secret is bound to. The one
// parser every daemon uses, so that "https://API.example.com" and
// "https://api.example.com:443" are the same origin everywhere.
#ifndef LATCHKEY_COMMON_ORIGIN_H_
#define LATCHKEY_COMMON_ORIGIN_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace latchkey {

struct Origin {
  std::string scheme;  // "http" or "https", lower case.
  std::string host;    // lower-case DNS name, IPv4 literal or [IPv6].
  uint16_t port = 0;   // explicit, defaulted from the scheme.

  // ToString gives the canonical "scheme://host:port".
  std::string ToString() const;
  bool operator==(const Origin& other) const {
    return scheme == other.scheme && host == other.host && port == other.port;
  }
};

// ParseOrigin accepts exactly "scheme://host[:port]" with an optional
// trailing "/". Userinfo, paths, queries, fragments, and anything ambiguous
// are refused with INVALID_ARGUMENT naming the problem.
absl::StatusOr<Origin> ParseOrigin(absl::string_view text);

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_ORIGIN_H_
