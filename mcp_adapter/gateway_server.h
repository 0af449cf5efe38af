// GatewayServer: latchkey-mcp --gateway, the keyless HTTP gateway for
// command-line tools (curl, git, aws) on loopback:
//
//   <METHOD> http://127.0.0.1:PORT/<capability>/<path>?<query>
//
// Each request is checked (loopback Host/Origin, the gateway token as
// Bearer or Basic password), translated by BuildGatewayRequest and sent
// through the same SessionKeeper::Execute path as the MCP execute tool:
// the broker decides and audits, the vault adds the credential and calls
// the upstream. The answer comes back as plain HTTP (see gateway_request.h
// for the status mapping). Bodies of any size the capability allows are
// streamed both ways (gateway_stream.h).
#ifndef LATCHKEY_MCP_ADAPTER_GATEWAY_SERVER_H_
#define LATCHKEY_MCP_ADAPTER_GATEWAY_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "mcp_adapter/broker_client.h"
#include "mcp_adapter/http_checks.h"
#include "mcp_adapter/session_keeper.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace latchkey::mcp {

inline constexpr char kGatewayTokenEnvVar[] = "LATCHKEY_GATEWAY_TOKEN";

// LoadGatewayToken reads LATCHKEY_GATEWAY_TOKEN (removing it from the
// environment) or else `token_file` (owner-only). Never argv.
absl::StatusOr<std::string> LoadGatewayToken(const std::string &token_file);

struct GatewayOptions {
  LoopbackAddress address;
  std::string token;  // Not logged, not echoed.
  std::string broker_socket;
  size_t threads = 16;
};

class GatewayServer {
 public:
  // `broker` must outlive the server.
  GatewayServer(BrokerClient *broker, GatewayOptions options);
  ~GatewayServer();  // Stops and joins.
  GatewayServer(const GatewayServer &) = delete;
  GatewayServer &operator=(const GatewayServer &) = delete;

  // Start binds the address and serves on a thread of its own. Returns
  // the port bound.
  absl::StatusOr<int> Start();
  void Stop();

 private:
  bool Admit(const httplib::Request &request, httplib::Response &response);
  const GatewayOptions options_;
  BrokerClient *const broker_;
  SessionKeeper sessions_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  std::atomic<bool> stopped_{false};
};

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_GATEWAY_SERVER_H_
