#include "vault/address_class.h"

#include <arpa/inet.h>

#include "gtest/gtest.h"
#include "vault/address_guard.h"

namespace latchkey::vault {
namespace {

struct Case {
  const char* ip;
  AddressClass want;
};

AddressClass Classify(const std::string& text) {
  in_addr v4;
  in6_addr v6;
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return ClassifyIPv4(v4);
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) return ClassifyIPv6(v6);
  ADD_FAILURE() << "not an address: " << text;
  return AddressClass::kPublic;
}

TEST(AddressClassTest, Table) {
  const Case kCases[] = {
      // IPv4.
      {"127.0.0.1", AddressClass::kLoopback},
      {"127.255.255.254", AddressClass::kLoopback},
      {"10.0.0.1", AddressClass::kPrivate},
      {"10.255.255.255", AddressClass::kPrivate},
      {"172.16.0.1", AddressClass::kPrivate},
      {"172.31.255.255", AddressClass::kPrivate},
      {"172.32.0.1", AddressClass::kPublic},
      {"172.15.255.255", AddressClass::kPublic},
      {"192.168.1.1", AddressClass::kPrivate},
      {"192.169.0.1", AddressClass::kPublic},
      {"169.254.169.254", AddressClass::kLinkLocal},
      {"100.64.0.1", AddressClass::kCarrierNat},
      {"100.127.255.255", AddressClass::kCarrierNat},
      {"100.128.0.0", AddressClass::kPublic},
      {"0.0.0.0", AddressClass::kUnspecified},
      {"0.1.2.3", AddressClass::kUnspecified},
      {"224.0.0.1", AddressClass::kMulticast},
      {"239.255.255.250", AddressClass::kMulticast},
      {"255.255.255.255", AddressClass::kBroadcast},
      {"240.0.0.1", AddressClass::kReserved},
      {"192.0.0.8", AddressClass::kReserved},
      {"192.0.2.1", AddressClass::kReserved},
      {"198.18.0.1", AddressClass::kReserved},
      {"198.51.100.7", AddressClass::kReserved},
      {"203.0.113.9", AddressClass::kReserved},
      {"8.8.8.8", AddressClass::kPublic},
      {"140.82.112.3", AddressClass::kPublic},
      {"1.1.1.1", AddressClass::kPublic},
      // IPv6.
      {"::1", AddressClass::kLoopback},
      {"::", AddressClass::kUnspecified},
      {"::ffff:127.0.0.1", AddressClass::kLoopback},
      {"::ffff:7f00:1", AddressClass::kLoopback},
      {"::ffff:10.1.2.3", AddressClass::kPrivate},
      {"::ffff:169.254.169.254", AddressClass::kLinkLocal},
      {"::ffff:8.8.8.8", AddressClass::kPublic},
      {"::127.0.0.1", AddressClass::kLoopback},         // IPv4-compatible
      {"::ffff:0:127.0.0.1", AddressClass::kLoopback},  // SIIT
      {"64:ff9b::127.0.0.1", AddressClass::kLoopback},  // NAT64
      {"64:ff9b::a9fe:a9fe", AddressClass::kLinkLocal},
      {"64:ff9b::8.8.8.8", AddressClass::kPublic},
      {"64:ff9b:1::1", AddressClass::kReserved},
      {"2002:7f00:1::1", AddressClass::kLoopback},   // 6to4 of 127.0.0.1
      {"2002:c0a8:101::1", AddressClass::kPrivate},  // 6to4 of 192.168.1.1
      {"2002:808:808::1", AddressClass::kPublic},
      {"2001::1", AddressClass::kReserved},  // Teredo
      {"2001:db8::1", AddressClass::kReserved},
      {"100::1", AddressClass::kReserved},
      {"fc00::1", AddressClass::kPrivate},
      {"fd12:3456::1", AddressClass::kPrivate},
      {"fe80::1", AddressClass::kLinkLocal},
      {"febf::1", AddressClass::kLinkLocal},
      {"fec0::1", AddressClass::kPrivate},
      {"ff02::1", AddressClass::kMulticast},
      {"ff0e::1", AddressClass::kMulticast},
      {"4000::1", AddressClass::kReserved},
      {"2606:4700:4700::1111", AddressClass::kPublic},
      {"2a00:1450:4001::200e", AddressClass::kPublic},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(AddressClassName(Classify(c.ip)), AddressClassName(c.want))
        << c.ip;
  }
}

TEST(AddressGuardTest, NumericFormsResolveToWhatTheyMean) {
  // getaddrinfo understands the inet_aton forms an attacker would use.
  for (const char* host :
       {"2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0x7f.1",
        "017700000001", "localhost", "127.0.0.1"}) {
    absl::StatusOr<Origin> origin =
        ParseOrigin(std::string("http://") + host + ":8080");
    ASSERT_TRUE(origin.ok()) << host << ": " << origin.status();
    absl::StatusOr<PinnedAddress> pinned = ResolveAndCheck(*origin, false);
    ASSERT_FALSE(pinned.ok()) << host;
    EXPECT_EQ(pinned.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_NE(pinned.status().message().find("(loopback)"), std::string::npos)
        << pinned.status();
    EXPECT_NE(pinned.status().message().find("marked internal"),
              std::string::npos);
  }
}

TEST(AddressGuardTest, RefusalMessageNamesOriginAndAddress) {
  absl::StatusOr<PinnedAddress> pinned =
      ResolveAndCheck(*ParseOrigin("http://2130706433"), false);
  ASSERT_FALSE(pinned.ok());
  EXPECT_EQ(pinned.status().message(),
            "origin http://2130706433:80 resolves to 127.0.0.1 (loopback), "
            "which is refused unless the origin is marked internal");
}

TEST(AddressGuardTest, InternalOriginIsPinnedAndRechecked) {
  absl::StatusOr<PinnedAddress> pinned =
      ResolveAndCheck(*ParseOrigin("http://127.0.0.1:8080"), true);
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_EQ(pinned->ip, "127.0.0.1");
  EXPECT_TRUE(CheckConnectAddress(
                  reinterpret_cast<const sockaddr*>(&pinned->address), *pinned)
                  .ok());
  // Any other address or port, even another loopback one, is refused.
  sockaddr_in other{};
  other.sin_family = AF_INET;
  other.sin_port = htons(8080);
  inet_pton(AF_INET, "127.0.0.2", &other.sin_addr);
  EXPECT_EQ(
      CheckConnectAddress(reinterpret_cast<const sockaddr*>(&other), *pinned)
          .code(),
      absl::StatusCode::kPermissionDenied);
  inet_pton(AF_INET, "127.0.0.1", &other.sin_addr);
  other.sin_port = htons(8081);
  EXPECT_EQ(
      CheckConnectAddress(reinterpret_cast<const sockaddr*>(&other), *pinned)
          .code(),
      absl::StatusCode::kPermissionDenied);
  // Pinned but not internal: the connect-time check refuses loopback too.
  PinnedAddress not_internal = *pinned;
  not_internal.allow_internal = false;
  EXPECT_EQ(
      CheckConnectAddress(reinterpret_cast<const sockaddr*>(&pinned->address),
                          not_internal)
          .code(),
      absl::StatusCode::kPermissionDenied);
}

TEST(AddressGuardTest, Ipv6LiteralsAreCheckedToo) {
  for (const char* origin :
       {"http://[::1]:8080", "http://[::ffff:127.0.0.1]:8080",
        "http://[::ffff:7f00:1]", "http://[0:0:0:0:0:ffff:a9fe:a9fe]",
        "http://[fe80::1]", "http://[::]"}) {
    absl::StatusOr<Origin> parsed = ParseOrigin(origin);
    ASSERT_TRUE(parsed.ok()) << origin << ": " << parsed.status();
    EXPECT_EQ(ResolveAndCheck(*parsed, false).status().code(),
              absl::StatusCode::kPermissionDenied)
        << origin;
  }
}

TEST(AddressGuardTest, UnresolvableNameIsUnavailableNotRefused) {
  absl::StatusOr<PinnedAddress> pinned =
      ResolveAndCheck(*ParseOrigin("http://no-such-host.invalid"), false);
  EXPECT_EQ(pinned.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace latchkey::vault
