// UpstreamClient connects only to the pinned address: the URL's host name
// is never resolved by curl, and the connect-time re-check
// (CURLOPT_OPENSOCKETFUNCTION) refuses a non-public address that is not
// marked internal even when it was pinned. On the wire it sends the
// vault's Accept-Encoding and no header nobody asked for, and it decodes
// (or refuses) an encoded answer: checked against a real loopback upstream
// (tests/upstream/vault_stream_upstream.py).
#include "vault/upstream_client.h"

#include <arpa/inet.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/loopback_canary.h"
#include "tests/process.h"

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

// StartUpstream runs vault_stream_upstream.py in `dir` and returns its
// port (0 if it did not start).
int StartUpstream(const std::string& dir,
                  std::unique_ptr<testing::ChildProcess>* child) {
  const std::string port_file = dir + "/upstream.port";
  auto started = testing::ChildProcess::Start(
      {{"/usr/bin/python3", "tests/upstream/vault_stream_upstream.py",
        "--port-file=" + port_file},
       {},
       dir + "/upstream.log",
       false});
  if (!started.ok()) return 0;
  *child = std::move(*started);
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::string port;
  while (port.empty() && absl::Now() < deadline) {
    port = testing::ReadFileOrEmpty(port_file);
    if (port.empty()) absl::SleepFor(absl::Milliseconds(20));
  }
  return port.empty() ? 0 : std::stoi(port);
}

class UpstreamWireTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/lk-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    dir_ = templ;
    port_ = StartUpstream(dir_, &upstream_);
    ASSERT_NE(port_, 0) << "upstream did not start";
    origin_ = "http://127.0.0.1:" + std::to_string(port_);
    limits_.set_total_timeout_ms(10000);
  }
  void TearDown() override {
    upstream_.reset();
    (void)!std::system(("rm -rf '" + dir_ + "'").c_str());
  }

  std::string dir_;
  std::unique_ptr<testing::ChildProcess> upstream_;
  int port_ = 0;
  std::string origin_;
  v1::EgressLimits limits_;
  UpstreamClient client_;
};

TEST_F(UpstreamWireTest, SendsOnlyTheVaultsAcceptEncodingAndNoDefaults) {
  OutgoingRequest request = Get(origin_);
  request.method = "POST";
  request.path = "/headers";
  request.body = "a=b";
  // Whatever Accept-Encoding reaches the client, in any case or number.
  request.headers = {{"Accept-Encoding", "gzip"},
                     {"accept-encoding", "br, zstd"},
                     {"X-Agent", "kept"}};
  absl::StatusOr<UpstreamResult> result =
      client_.Perform(request, limits_, Loopback(port_, true));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->status, 200) << result->body;
  nlohmann::json seen = nlohmann::json::parse(result->body, nullptr, false);
  ASSERT_FALSE(seen.is_discarded()) << result->body;
  std::vector<std::string> names;
  for (const auto& pair : seen["headers"]) {
    const std::string name = absl::AsciiStrToLower(pair[0].get<std::string>());
    names.push_back(name);
    if (name == "accept-encoding") {
      EXPECT_EQ(pair[1], "identity");
    }
    if (name == "x-agent") {
      EXPECT_EQ(pair[1], "kept");
    }
  }
  std::sort(names.begin(), names.end());
  // No Accept, no Content-Type: neither was asked for.
  EXPECT_EQ(names,
            std::vector<std::string>(
                {"accept-encoding", "content-length", "host", "x-agent"}))
      << result->body;
}

// A Content-Length that is not the body's (a scheme that grew the body
// after the length was stated) would desynchronize a kept-alive
// connection: the client refuses to send it; SetContentLength restates it.
TEST_F(UpstreamWireTest, NeverSendsAStaleContentLength) {
  OutgoingRequest request = Get(origin_);
  request.method = "POST";
  request.path = "/headers";
  request.body = "a=b";
  SetContentLength(nullptr, &request);
  request.body = "nonce=1&a=b";
  absl::StatusOr<UpstreamResult> stale =
      client_.Perform(request, limits_, Loopback(port_, true));
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kInternal);
  SetContentLength(nullptr, &request);
  absl::StatusOr<UpstreamResult> restated =
      client_.Perform(request, limits_, Loopback(port_, true));
  ASSERT_TRUE(restated.ok()) << restated.status();
  EXPECT_EQ(restated->status, 200);
  int lengths = 0;
  for (const auto& [name, value] : request.headers) {
    lengths += absl::EqualsIgnoreCase(name, "content-length");
  }
  EXPECT_EQ(lengths, 1);
}

// A credential header may not frame the message: a multi-part secret's
// part (or a header scheme) named Content-Length or Transfer-Encoding would
// state a second length beside the vault's and split or join requests on a
// kept-alive connection. Refused before a byte is sent.
TEST_F(UpstreamWireTest, RefusesACredentialHeaderThatFramesTheMessage) {
  for (const char* name :
       {"Content-Length", "transfer-encoding", "Host", "Connection"}) {
    OutgoingRequest request = Get(origin_);
    request.method = "POST";
    request.path = "/headers";
    request.body = "a=b";
    SetContentLength(nullptr, &request);
    request.credential_headers.emplace_back(name, SecureBuffer::CopyOf("0"));
    absl::StatusOr<UpstreamResult> sent =
        client_.Perform(request, limits_, Loopback(port_, true));
    EXPECT_EQ(sent.status().code(), absl::StatusCode::kFailedPrecondition)
        << name << ": " << sent.status();
  }
}

TEST_F(UpstreamWireTest, DecodesWhatItCanAndRefusesTheRest) {
  OutgoingRequest request = Get(origin_);
  request.path = "/coded";
  request.credential_headers.emplace_back(
      "Authorization", SecureBuffer::CopyOf("Bearer tok_0123456789"));
  for (const char* coding :
       {"gzip", "deflate", "br", "zstd", "gzip-gzip", "te-gzip"}) {
    request.query = {{"coding", coding}};
    absl::StatusOr<UpstreamResult> result =
        client_.Perform(request, limits_, Loopback(port_, true));
    ASSERT_TRUE(result.ok()) << coding << result.status();
    EXPECT_TRUE(result->decoded) << coding;
    // Decoded, not yet scrubbed (the caller scrubs): the plain token.
    EXPECT_TRUE(absl::StrContains(result->body, "\"raw\": \"tok_0123456789\""))
        << coding << ": " << result->body;
  }
  for (const char* coding : {"x-custom", "corrupt-gzip", "gzip-trailing"}) {
    request.query = {{"coding", coding}};
    absl::StatusOr<UpstreamResult> result =
        client_.Perform(request, limits_, Loopback(port_, true));
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable)
        << coding << result.status();
    EXPECT_TRUE(absl::StrContains(result.status().message(),
                                  "content coding the vault cannot decode"))
        << coding << result.status();
  }
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
