// BrokerCall makes the agent's happy-path request straight over broker.sock
// (OpenSession, then Execute GET /v1/...), as latchkey-mcp would, so that
// cross-process tests can drive the stack without an MCP adapter.
#ifndef LATCHKEY_TESTS_BROKER_CALL_H_
#define LATCHKEY_TESTS_BROKER_CALL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/broker.pb.h"

namespace latchkey::testing {

// OpenSessionAndGet opens a session for `capability` with the agent's
// token and executes GET `path` in it. A gRPC failure comes back as the
// error status (UNAVAILABLE when the broker is unreachable); a denial as
// an ExecuteResponse with decision DENY.
absl::StatusOr<v1::ExecuteResponse> OpenSessionAndGet(
    const std::string& broker_socket, const std::string& token,
    const std::string& capability, const std::string& path,
    absl::Duration timeout = absl::Seconds(10));

}  // namespace latchkey::testing

#endif  // LATCHKEY_TESTS_BROKER_CALL_H_
