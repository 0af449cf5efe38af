#include "mcp_adapter/listener_flags.h"

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace latchkey::mcp {
namespace {

TEST(LoadListenerFlags, LoopbackAddressAndToken) {
  std::string event;
  auto flags = LoadListenerFlags(
      "gateway", "127.0.0.1:0",
      []() -> absl::StatusOr<std::string> { return std::string("t0ken"); },
      &event);
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->address.host, "127.0.0.1");
  EXPECT_EQ(flags->address.port, 0);
  EXPECT_EQ(flags->token, "t0ken");
  EXPECT_EQ(event, "");
}

TEST(LoadListenerFlags, PublicAddressIsRefusedBeforeAnyTokenIsRead) {
  std::string event;
  bool token_read = false;
  auto flags = LoadListenerFlags(
      "http", "0.0.0.0:8765",
      [&token_read]() -> absl::StatusOr<std::string> {
        token_read = true;
        return std::string("t0ken");
      },
      &event);
  EXPECT_EQ(flags.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(event, "bad_http_address");
  EXPECT_FALSE(token_read);
}

TEST(LoadListenerFlags, MissingTokenNamesTheFrontEnd) {
  std::string event;
  auto flags = LoadListenerFlags(
      "gateway", "[::1]:9000",
      []() -> absl::StatusOr<std::string> {
        return absl::FailedPreconditionError("no token");
      },
      &event);
  EXPECT_EQ(flags.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(flags.status().message(), "no token");
  EXPECT_EQ(event, "no_gateway_token");
}

}  // namespace
}  // namespace latchkey::mcp
