#include "mcp_adapter/http_mode.h"

#include <poll.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "mcp_adapter/http_checks.h"
#include "mcp_adapter/http_transport.h"
#include "mcp_adapter/mcp_server.h"
#include "mcp_adapter/token_source.h"

namespace latchkey::mcp {

absl::StatusOr<std::string> LoadHttpToken(const std::string& token_file) {
  return LoadClientToken(
      {kHttpTokenEnvVar, token_file, "HTTP bearer token",
       "--http needs a bearer token for its clients: set "
       "LATCHKEY_MCP_HTTP_TOKEN or pass --http_token_file=<file readable only "
       "by you>, e.g. `head -c 32 /dev/urandom | base64 > "
       "~/.config/latchkey/mcp-http.token && chmod 600 "
       "~/.config/latchkey/mcp-http.token`",
       kMinHttpTokenBytes});
}

int RunHttpMode(BrokerClient* broker, HttpModeOptions options) {
  absl::StatusOr<LoopbackAddress> address =
      ParseLoopbackAddress(options.address);
  if (!address.ok()) {
    LogError("bad_http_address",
             {{"message", std::string(address.status().message())}});
    return 2;
  }
  const std::string socket = options.broker_socket;
  McpServerFactory factory = [broker,
                              socket](std::function<void(std::string)> notify) {
    McpServerOptions server_options;
    server_options.broker_socket = socket;
    server_options.notify = std::move(notify);
    return std::make_unique<McpServer>(broker, std::move(server_options));
  };
  HttpTransportOptions transport_options;
  transport_options.address = *address;
  transport_options.token = std::move(options.token);
  HttpTransport transport(std::move(factory), std::move(transport_options));
  absl::StatusOr<int> port = transport.Bind();
  if (!port.ok()) {
    LogError("http_bind_failed",
             {{"message", std::string(port.status().message())}});
    return 1;
  }
  const std::string host = address->host == "::1" ? "[::1]" : address->host;
  // Tests and scripts read the port from this line (--http=127.0.0.1:0).
  LogInfo("http_listening",
          {{"url", absl::StrCat("http://", host, ":", *port, kMcpPath)},
           {"port", std::to_string(*port)},
           {"broker_socket", socket},
           {"version", kServerVersion}});
  std::thread server([&transport] { transport.Run(); });
  pollfd stop = {options.stop_fd, POLLIN, 0};
  while (::poll(&stop, 1, -1) < 0 && errno == EINTR) {
  }
  transport.Stop();
  server.join();
  LogInfo("stopped", {{"reason", "signal"}});
  return 0;
}

}  // namespace latchkey::mcp
