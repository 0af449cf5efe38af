#include "vault/address_guard.h"

#include <netdb.h>
#include <netinet/in.h>

#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "vault/address_class.h"

namespace latchkey::vault {
namespace {

// Bound the candidates checked: a name with hundreds of records is not a
// plausible API origin, and every one of them would be checked.
constexpr int kMaxCandidates = 64;

struct AddrInfoDeleter {
  void operator()(addrinfo* info) const { freeaddrinfo(info); }
};

absl::Status Refused(const Origin& origin, const sockaddr* address,
                     AddressClass kind) {
  return absl::PermissionDeniedError(
      absl::StrCat("origin ", origin.ToString(), " resolves to ",
                   AddressToString(address), " (", AddressClassName(kind),
                   "), which is refused unless the origin is marked internal"));
}

bool SameIp(const sockaddr* a, const sockaddr* b) {
  if (a->sa_family != b->sa_family) return false;
  if (a->sa_family == AF_INET) {
    const auto* x = reinterpret_cast<const sockaddr_in*>(a);
    const auto* y = reinterpret_cast<const sockaddr_in*>(b);
    return x->sin_addr.s_addr == y->sin_addr.s_addr &&
           x->sin_port == y->sin_port;
  }
  if (a->sa_family == AF_INET6) {
    const auto* x = reinterpret_cast<const sockaddr_in6*>(a);
    const auto* y = reinterpret_cast<const sockaddr_in6*>(b);
    return std::memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(in6_addr)) == 0 &&
           x->sin6_port == y->sin6_port;
  }
  return false;
}

}  // namespace

absl::StatusOr<PinnedAddress> ResolveAndCheck(const Origin& origin,
                                              bool allow_internal) {
  std::string host = origin.host;
  if (!host.empty() && host.front() == '[') {
    host = std::string(absl::StripSuffix(absl::StripPrefix(host, "["), "]"));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  addrinfo* raw = nullptr;
  std::string port = std::to_string(origin.port);
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &raw);
  std::unique_ptr<addrinfo, AddrInfoDeleter> list(raw);
  if (rc != 0 || raw == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("upstream ", origin.ToString(),
                     " is unreachable: its host name does not resolve (",
                     gai_strerror(rc), ")"));
  }
  PinnedAddress pinned;
  pinned.allow_internal = allow_internal;
  int checked = 0;
  for (addrinfo* p = raw; p != nullptr && checked < kMaxCandidates;
       p = p->ai_next) {
    if (p->ai_family != AF_INET && p->ai_family != AF_INET6) continue;
    ++checked;
    // Every candidate, not just the first: a name that mixes a public and a
    // private record is refused whole, whichever one curl would pick.
    AddressClass kind = ClassifySockaddr(p->ai_addr);
    if (kind != AddressClass::kPublic && !allow_internal) {
      return Refused(origin, p->ai_addr, kind);
    }
    if (pinned.empty() && p->ai_addrlen <= sizeof(pinned.address)) {
      std::memcpy(&pinned.address, p->ai_addr, p->ai_addrlen);
      pinned.length = p->ai_addrlen;
      pinned.ip = AddressToString(p->ai_addr);
    }
  }
  if (pinned.empty()) {
    return absl::UnavailableError(
        absl::StrCat("upstream ", origin.ToString(),
                     " is unreachable: its host has no IPv4 or IPv6 address"));
  }
  return pinned;
}

absl::Status CheckConnectAddress(const sockaddr* address,
                                 const PinnedAddress& pinned) {
  if (pinned.empty() ||
      !SameIp(address, reinterpret_cast<const sockaddr*>(&pinned.address))) {
    return absl::PermissionDeniedError(
        absl::StrCat("the connection would go to ", AddressToString(address),
                     ", not to the checked address ",
                     pinned.empty() ? "(none)" : pinned.ip, "; refused"));
  }
  AddressClass kind = ClassifySockaddr(address);
  if (kind != AddressClass::kPublic && !pinned.allow_internal) {
    return absl::PermissionDeniedError(
        absl::StrCat("the connection would go to ", AddressToString(address),
                     " (", AddressClassName(kind), "); refused"));
  }
  return absl::OkStatus();
}

}  // namespace latchkey::vault
