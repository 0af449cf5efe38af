// AddressClass sorts an IP address into "public" or the kind of special
// range it belongs to, so that the vault can refuse to send a credential to
// loopback, private, link-local (cloud metadata) and other non-public
// addresses. One small, table-tested function: every egress check and the
// connect-time re-check use it, so they cannot disagree.
#ifndef LATCHKEY_VAULT_ADDRESS_CLASS_H_
#define LATCHKEY_VAULT_ADDRESS_CLASS_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace latchkey::vault {

enum class AddressClass {
  kPublic,
  kLoopback,     // 127/8, ::1
  kPrivate,      // 10/8, 172.16/12, 192.168/16, fc00::/7
  kCarrierNat,   // 100.64/10 (shared address space)
  kLinkLocal,    // 169.254/16 (cloud metadata), fe80::/10
  kUnspecified,  // 0.0.0.0, 0/8 ("this network"), ::
  kMulticast,    // 224/4, ff00::/8
  kBroadcast,    // 255.255.255.255
  kReserved,     // 240/4, 192.0.0/24, benchmarking, documentation,
                 // 100::/64 discard, 2001::/23 IETF, fec0::/10 site-local
};

// Name gives a short lower-case name for messages, e.g. "loopback".
absl::string_view AddressClassName(AddressClass c);

// ClassifyIPv4 takes the address in network byte order. ClassifyIPv6 also
// looks through the IPv6 forms that embed an IPv4 address (IPv4-mapped
// ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96 and
// 64:ff9b:1::/48, 6to4 2002::/16, Teredo 2001::/32) and classifies the
// embedded address, so [::ffff:127.0.0.1] is loopback.
AddressClass ClassifyIPv4(const in_addr& address);
AddressClass ClassifyIPv6(const in6_addr& address);
// ClassifySockaddr handles AF_INET and AF_INET6; anything else is reserved.
AddressClass ClassifySockaddr(const sockaddr* address);

// AddressToString prints the IP (no port), e.g. "127.0.0.1" or "::1".
std::string AddressToString(const sockaddr* address);

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_ADDRESS_CLASS_H_
