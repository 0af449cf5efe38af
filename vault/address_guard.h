// AddressGuard is the vault's SSRF and DNS-rebinding defence. The vault
// resolves an origin's host itself, checks every address the name resolves
// to with ClassifySockaddr, and pins the connection to the address it
// checked: UpstreamClient tells libcurl to connect to exactly that address
// (CURLOPT_CONNECT_TO) and re-checks the socket address curl is about to
// connect to (CURLOPT_OPENSOCKETFUNCTION) with CheckConnectAddress. A name
// that answers with a public address at check time and 127.0.0.1 at connect
// time therefore cannot reach loopback.
#ifndef LATCHKEY_VAULT_ADDRESS_GUARD_H_
#define LATCHKEY_VAULT_ADDRESS_GUARD_H_

#include <sys/socket.h>

#include <string>

#include "absl/status/statusor.h"
#include "common/origin.h"

namespace latchkey::vault {

// PinnedAddress is the one address an upstream call may connect to.
struct PinnedAddress {
  sockaddr_storage address{};  // IP and port.
  socklen_t length = 0;
  std::string ip;  // printable IP, "127.0.0.1" or "::1" (no brackets).
  // allow_internal: the origin is marked internal by the operator, so
  // non-public addresses are acceptable for it.
  bool allow_internal = false;
  bool empty() const { return length == 0; }
};

// ResolveAndCheck resolves origin.host (getaddrinfo, so every numeric form
// the C library accepts, such as 2130706433 or 0x7f.1, is turned into the
// address it really means) and checks every candidate. PERMISSION_DENIED
// with a message naming the origin, the address and its class when any
// candidate is non-public and the origin is not internal; UNAVAILABLE when
// the name does not resolve. On success the first candidate is pinned.
absl::StatusOr<PinnedAddress> ResolveAndCheck(const Origin& origin,
                                              bool allow_internal);

// CheckConnectAddress is the connect-time re-check: `address` must be the
// pinned IP and port, and (unless internal) public. PERMISSION_DENIED
// otherwise.
absl::Status CheckConnectAddress(const sockaddr* address,
                                 const PinnedAddress& pinned);

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_ADDRESS_GUARD_H_
