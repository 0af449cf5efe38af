// latchkey-mcp: the stdio MCP server an agent client (Claude Desktop,
// Claude Code, Cursor) launches. It holds the agent token, never a secret,
// and forwards tool calls to latchkey-broker over its Unix socket.
//
//   LATCHKEY_AGENT_TOKEN=... latchkey-mcp
//   --broker_socket=/run/latchkey/broker.sock
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/runtime_tuning.h"
#include "mcp_adapter/gateway_server.h"
#include "mcp_adapter/grpc_broker_client.h"
#include "mcp_adapter/http_mode.h"
#include "mcp_adapter/line_writer.h"
#include "mcp_adapter/listener_flags.h"
#include "mcp_adapter/mcp_server.h"
#include "mcp_adapter/process_setup.h"
#include "mcp_adapter/stateless.h"
#include "mcp_adapter/stdio_transport.h"
#include "mcp_adapter/token_source.h"

ABSL_FLAG(std::string, broker_socket, "run/broker.sock",
          "Path of latchkey-broker's agent socket (broker.sock).");
ABSL_FLAG(std::string, token_file, "",
          "File holding the agent token (mode 0600), used when "
          "LATCHKEY_AGENT_TOKEN is not set. The token is never taken from "
          "the command line.");
ABSL_FLAG(absl::Duration, execute_timeout, absl::Seconds(70),
          "Deadline of one execute call to the broker.");
ABSL_FLAG(absl::Duration, rpc_timeout, absl::Seconds(5),
          "Deadline of other broker calls (open session, list).");

ABSL_FLAG(std::string, http, "",
          "Serve MCP over Streamable HTTP at this loopback HOST:PORT (e.g. "
          "127.0.0.1:8765; port 0 picks one and logs it) instead of stdio. "
          "Clients must send the bearer token from LATCHKEY_MCP_HTTP_TOKEN "
          "or --http_token_file.");
ABSL_FLAG(std::string, http_token_file, "",
          "File (mode 0600) holding the bearer token HTTP clients must "
          "present, used when LATCHKEY_MCP_HTTP_TOKEN is not set.");

ABSL_FLAG(std::string, gateway, "",
          "Also serve the keyless HTTP gateway for command-line tools at "
          "this loopback HOST:PORT (e.g. 127.0.0.1:8766; port 0 picks one "
          "and logs it): http://HOST:PORT/<capability>/<path> runs the "
          "request like the execute tool. Clients present the token from "
          "LATCHKEY_GATEWAY_TOKEN or --gateway_token_file.");
ABSL_FLAG(std::string, gateway_token_file, "",
          "File (mode 0600) holding the gateway token, used when "
          "LATCHKEY_GATEWAY_TOKEN is not set.");
ABSL_FLAG(bool, gateway_only, false,
          "With --gateway: serve only the gateway (no MCP on stdio or "
          "--http) until SIGTERM/SIGINT, e.g. for a shell session.");

namespace {

constexpr int kExitUsage = 2;

// WaitForStop blocks until the termination-signal fd is readable.
void WaitForStop(int stop_fd) {
  pollfd stop = {stop_fd, POLLIN, 0};
  while (::poll(&stop, 1, -1) < 0 && errno == EINTR) {
  }
}

// UsageError logs a start-up refusal caused by flags or the environment.
int UsageError(const std::string& event, const absl::Status& status) {
  latchkey::LogError(event, {{"message", std::string(status.message())}});
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  latchkey::TuneRuntimeForServing();
  absl::SetProgramUsageMessage(
      "Latchkey MCP server (stdio). The agent token comes from "
      "LATCHKEY_AGENT_TOKEN or --token_file.");
  absl::ParseCommandLine(argc, argv);
  latchkey::SetLogComponent("mcp");

  auto token = latchkey::mcp::LoadAgentToken(absl::GetFlag(FLAGS_token_file));
  if (!token.ok()) return UsageError("no_agent_token", token.status());
  const std::string http_address = absl::GetFlag(FLAGS_http);
  std::string http_token;
  std::string failed_event;
  if (!http_address.empty()) {
    auto http = latchkey::mcp::LoadListenerFlags(
        "http", http_address,
        [] {
          return latchkey::mcp::LoadHttpToken(
              absl::GetFlag(FLAGS_http_token_file));
        },
        &failed_event);
    if (!http.ok()) return UsageError(failed_event, http.status());
    http_token = std::move(http->token);
  }
  const std::string gateway_address = absl::GetFlag(FLAGS_gateway);
  latchkey::mcp::GatewayOptions gateway_options;
  if (!gateway_address.empty()) {
    auto gateway = latchkey::mcp::LoadListenerFlags(
        "gateway", gateway_address,
        [] {
          return latchkey::mcp::LoadGatewayToken(
              absl::GetFlag(FLAGS_gateway_token_file));
        },
        &failed_event);
    if (!gateway.ok()) return UsageError(failed_event, gateway.status());
    gateway_options.address = gateway->address;
    gateway_options.token = std::move(gateway->token);
  } else if (absl::GetFlag(FLAGS_gateway_only)) {
    return UsageError(
        "bad_flags",
        absl::InvalidArgumentError("--gateway_only needs --gateway=HOST:PORT"));
  }
  // Before any thread starts, so that every thread inherits the mask.
  auto stop_fd = latchkey::mcp::OpenTerminationSignalFd();
  auto protocol_fd = latchkey::mcp::ReserveStdoutForProtocol();
  if (!stop_fd.ok() || !protocol_fd.ok()) {
    latchkey::LogError(
        "setup_failed",
        {{"message",
          std::string(!stop_fd.ok() ? stop_fd.status().message()
                                    : protocol_fd.status().message())}});
    return 1;
  }

  const std::string socket = absl::GetFlag(FLAGS_broker_socket);
  latchkey::mcp::GrpcBrokerClientOptions broker_options;
  broker_options.socket_path = socket;
  broker_options.token = std::move(token->token);
  broker_options.execute_timeout = absl::GetFlag(FLAGS_execute_timeout);
  broker_options.call_timeout = absl::GetFlag(FLAGS_rpc_timeout);
  latchkey::mcp::GrpcBrokerClient broker(std::move(broker_options));

  // The gateway serves on its own thread next to the MCP transport and is
  // stopped (destroyed) when main returns.
  std::unique_ptr<latchkey::mcp::GatewayServer> gateway;
  if (!gateway_address.empty()) {
    gateway_options.broker_socket = socket;
    const std::string host = gateway_options.address.host;
    gateway = std::make_unique<latchkey::mcp::GatewayServer>(
        &broker, std::move(gateway_options));
    absl::StatusOr<int> port = gateway->Start();
    if (!port.ok()) {
      latchkey::LogError("gateway_bind_failed",
                         {{"message", std::string(port.status().message())}});
      return 1;
    }
    // Tests and scripts read the port from this line (--gateway=...:0).
    latchkey::LogInfo(
        "gateway_listening",
        {{"url", absl::StrCat("http://", host == "::1" ? "[::1]" : host, ":",
                              *port, "/<capability>/<path>")},
         {"port", std::to_string(*port)},
         {"broker_socket", socket}});
    if (absl::GetFlag(FLAGS_gateway_only)) {
      WaitForStop(*stop_fd);
      gateway.reset();
      latchkey::LogInfo("stopped", {{"reason", "signal"}});
      return 0;
    }
  }

  if (!http_address.empty()) {
    return latchkey::mcp::RunHttpMode(
        &broker, {http_address, std::move(http_token), socket, *stop_fd});
  }

  latchkey::mcp::LineWriter writer(*protocol_fd);
  latchkey::mcp::McpServerOptions server_options;
  server_options.broker_socket = socket;
  server_options.notify = [&writer](std::string line) { writer.Write(line); };
  latchkey::mcp::McpServer server(&broker, std::move(server_options));

  latchkey::mcp::StdioTransportOptions transport_options;
  transport_options.in_fd = STDIN_FILENO;
  transport_options.stop_fd = *stop_fd;
  // 2026-07-28 requests (no initialize) get a server of their own.
  latchkey::mcp::McpServerOptions stateless_options;
  stateless_options.broker_socket = socket;
  stateless_options.notify = [&writer](std::string line) {
    writer.Write(line);
  };
  latchkey::mcp::McpServer stateless_inner(&broker,
                                           std::move(stateless_options));
  latchkey::mcp::StatelessServer stateless(&stateless_inner);
  transport_options.intercept = latchkey::mcp::StatelessInterceptor(&stateless);
  latchkey::mcp::StdioTransport transport(&server, &writer, transport_options);

  latchkey::LogInfo("started", {{"broker_socket", socket},
                                {"token_source", token->source},
                                {"version", latchkey::mcp::kServerVersion}});
  latchkey::LogInfo(
      "stopped",
      {{"reason", latchkey::mcp::StdioTransport::ExitReason(transport.Run())}});
  return 0;
}
