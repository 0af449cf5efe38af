#include "vault/address_class.h"

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>

namespace latchkey::vault {
namespace {

// Prefix is one IPv4 range in host byte order.
struct Prefix4 {
  uint32_t base;
  int bits;
  AddressClass kind;
};

constexpr uint32_t Ip(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  return (a << 24) | (b << 16) | (c << 8) | d;
}

// Order matters only where ranges nest (none here overlap).
constexpr Prefix4 kSpecial4[] = {
    {Ip(0, 0, 0, 0), 8, AddressClass::kUnspecified},
    {Ip(10, 0, 0, 0), 8, AddressClass::kPrivate},
    {Ip(100, 64, 0, 0), 10, AddressClass::kCarrierNat},
    {Ip(127, 0, 0, 0), 8, AddressClass::kLoopback},
    {Ip(169, 254, 0, 0), 16, AddressClass::kLinkLocal},
    {Ip(172, 16, 0, 0), 12, AddressClass::kPrivate},
    {Ip(192, 0, 0, 0), 24, AddressClass::kReserved},    // IETF protocol
    {Ip(192, 0, 2, 0), 24, AddressClass::kReserved},    // TEST-NET-1
    {Ip(192, 88, 99, 0), 24, AddressClass::kReserved},  // 6to4 relay
    {Ip(192, 168, 0, 0), 16, AddressClass::kPrivate},
    {Ip(198, 18, 0, 0), 15, AddressClass::kReserved},    // benchmarking
    {Ip(198, 51, 100, 0), 24, AddressClass::kReserved},  // TEST-NET-2
    {Ip(203, 0, 113, 0), 24, AddressClass::kReserved},   // TEST-NET-3
    {Ip(224, 0, 0, 0), 4, AddressClass::kMulticast},
    {Ip(255, 255, 255, 255), 32, AddressClass::kBroadcast},
    {Ip(240, 0, 0, 0), 4, AddressClass::kReserved},
};

AddressClass ClassifyHostOrder4(uint32_t ip) {
  for (const Prefix4& p : kSpecial4) {
    uint32_t mask = p.bits == 0 ? 0 : ~uint32_t{0} << (32 - p.bits);
    if ((ip & mask) == p.base) return p.kind;
  }
  return AddressClass::kPublic;
}

uint32_t Load32(const uint8_t* b) {
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) |
         (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

bool AllZero(const uint8_t* b, int n) {
  for (int i = 0; i < n; ++i) {
    if (b[i] != 0) return false;
  }
  return true;
}

}  // namespace

absl::string_view AddressClassName(AddressClass c) {
  switch (c) {
    case AddressClass::kPublic:
      return "public";
    case AddressClass::kLoopback:
      return "loopback";
    case AddressClass::kPrivate:
      return "private";
    case AddressClass::kCarrierNat:
      return "carrier-grade NAT";
    case AddressClass::kLinkLocal:
      return "link-local";
    case AddressClass::kUnspecified:
      return "unspecified";
    case AddressClass::kMulticast:
      return "multicast";
    case AddressClass::kBroadcast:
      return "broadcast";
    case AddressClass::kReserved:
      return "reserved";
  }
  return "reserved";
}

AddressClass ClassifyIPv4(const in_addr& address) {
  return ClassifyHostOrder4(ntohl(address.s_addr));
}

AddressClass ClassifyIPv6(const in6_addr& address) {
  const uint8_t* b = address.s6_addr;
  // :: and ::1.
  if (AllZero(b, 15)) {
    return b[15] == 1   ? AddressClass::kLoopback
           : b[15] == 0 ? AddressClass::kUnspecified
                        : ClassifyHostOrder4(Load32(b + 12));
  }
  // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible, deprecated) and
  // ::ffff:0:a.b.c.d (SIIT): the kernel or a translator may reach the
  // embedded IPv4 address.
  if (AllZero(b, 10) && b[10] == 0xff && b[11] == 0xff) {
    return ClassifyHostOrder4(Load32(b + 12));
  }
  if (AllZero(b, 12)) return ClassifyHostOrder4(Load32(b + 12));
  if (AllZero(b, 8) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 &&
      b[11] == 0) {
    return ClassifyHostOrder4(Load32(b + 12));
  }
  // NAT64 well-known prefix 64:ff9b::/96 and local-use 64:ff9b:1::/48.
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) {
    if (AllZero(b + 4, 8)) return ClassifyHostOrder4(Load32(b + 12));
    if (b[4] == 0x00 && b[5] == 0x01) return AddressClass::kReserved;
  }
  // 6to4 2002:a.b.c.d::/48 embeds an IPv4 address in bytes 2..5.
  if (b[0] == 0x20 && b[1] == 0x02) {
    return ClassifyHostOrder4(Load32(b + 2));
  }
  // Teredo 2001:0::/32: the client's IPv4 address is stored inverted.
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00) {
    return AddressClass::kReserved;
  }
  // 2001::/23 IETF protocol assignments (Teredo above), 2001:db8::/32
  // documentation, 100::/64 discard-only.
  if (b[0] == 0x20 && b[1] == 0x01 && (b[2] & 0xfe) == 0x00) {
    return AddressClass::kReserved;
  }
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) {
    return AddressClass::kReserved;
  }
  if (b[0] == 0x01 && b[1] == 0x00 && AllZero(b + 2, 6)) {
    return AddressClass::kReserved;
  }
  if ((b[0] & 0xfe) == 0xfc) return AddressClass::kPrivate;  // fc00::/7
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) {               // fe80::/10
    return AddressClass::kLinkLocal;
  }
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) {  // fec0::/10 site-local
    return AddressClass::kPrivate;
  }
  if (b[0] == 0xff) return AddressClass::kMulticast;
  // Only global unicast 2000::/3 is public; the rest is unassigned.
  if ((b[0] & 0xe0) != 0x20) return AddressClass::kReserved;
  return AddressClass::kPublic;
}

AddressClass ClassifySockaddr(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    return ClassifyIPv4(
        reinterpret_cast<const sockaddr_in*>(address)->sin_addr);
  }
  if (address->sa_family == AF_INET6) {
    return ClassifyIPv6(
        reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr);
  }
  return AddressClass::kReserved;
}

std::string AddressToString(const sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (address->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr,
              text, sizeof(text));
  } else if (address->sa_family == AF_INET6) {
    inet_ntop(AF_INET6,
              &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, text,
              sizeof(text));
  } else {
    return "(non-IP address)";
  }
  return text;
}

}  // namespace latchkey::vault
