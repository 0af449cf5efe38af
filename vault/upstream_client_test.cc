// UpstreamClient connects only to the pinned address: the URL's host name
// is never resolved by curl, and the connect-time re-check
// (CURLOPT_OPENSOCKETFUNCTION) refuses a non-public address that is not
// marked internal even when it was pinned.
#include "vault/upstream_client.h"

#include <arpa/inet.h>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/loopback_canary.h"

namespace latchkey::vault {
namespace {

PinnedAddress Loopback(int port, bool internal) {
  PinnedAddress pinned;
  auto* in = reinterpret_cast<sockaddr_in*>(&pinned.address);
  in->sin_family = AF_INET;
  in->sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &in->sin_addr);
  pinned.length = sizeof(sockaddr_in);
  pinned.ip = "127.0.0.1";
  pinned.allow_internal = internal;
  return pinned;
}

OutgoingRequest Get(const std::string& origin) {
  OutgoingRequest request;
  request.method = "GET";
  request.origin = origin;
  request.path = "/v1/x";
  return request;
}

TEST(UpstreamClientTest, ConnectsToThePinnedAddressNotTheUrlHost) {
  auto canary = testing::LoopbackCanary::Start();
  ASSERT_TRUE(canary.ok());
  int port = (*canary)->port();
  UpstreamClient client;
  v1::EgressLimits limits;
  limits.set_total_timeout_ms(5000);
  // ".invalid" never resolves: reaching the canary proves curl used the
  // pinned address instead of resolving the name.
  absl::StatusOr<UpstreamResult> result =
      client.Perform(Get("http://pinned.invalid:" + std::to_string(port)),
                     limits, Loopback(port, true));
  // The canary closes without answering: an upstream failure, after a
  // connection.
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable)
      << result.status();
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while ((*canary)->connections() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ((*canary)->connections(), 1);
}

TEST(UpstreamClientTest, ConnectTimeRecheckRefusesNonInternalLoopback) {
  auto canary = testing::LoopbackCanary::Start();
  ASSERT_TRUE(canary.ok());
  int port = (*canary)->port();
  UpstreamClient client;
  absl::StatusOr<UpstreamResult> result =
      client.Perform(Get("http://127.0.0.1:" + std::to_string(port)),
                     v1::EgressLimits(), Loopback(port, false));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied)
      << result.status();
  EXPECT_NE(result.status().message().find("(loopback); refused"),
            std::string::npos)
      << result.status();
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ((*canary)->connections(), 0);
}

TEST(UpstreamClientTest, RefusesWithoutACheckedAddress) {
  UpstreamClient client;
  EXPECT_EQ(client
                .Perform(Get("http://127.0.0.1:1"), v1::EgressLimits(),
                         PinnedAddress())
                .status()
                .code(),
            absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace latchkey::vault
