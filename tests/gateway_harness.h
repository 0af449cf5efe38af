// GatewayHarness: a loopback upstream script, the whole stack and a
// `latchkey-mcp --gateway` in front of it, plus a shell to run real tools
// (curl, git, aws) against the gateway with only the gateway token. Every
// tool output is kept for the leak scan.
#ifndef LATCHKEY_TESTS_GATEWAY_HARNESS_H_
#define LATCHKEY_TESTS_GATEWAY_HARNESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/process.h"
#include "tests/stack.h"

namespace latchkey::testing {

struct Ran {
  int exit_code = -1;
  std::string output;  // stdout + stderr
};

class GatewayHarness {
 public:
  static constexpr char kGatewayToken[] = "gw_test_7c1d9e04b2a85f36e1d0";

  // Start runs `upstream_script` (with --secret-file=<dir>/secret and
  // --repos=<dir>/repos), the stack against it and the gateway.
  // `prepare`, if not empty, runs first in the test directory (e.g. to
  // create repositories under repos/).
  static absl::StatusOr<std::unique_ptr<GatewayHarness>> Start(
      const std::string& upstream_script, StackOptions options,
      const std::string& prepare = "");

  // The steps of Start, for a test that needs something between them
  // (e.g. a `latchkeyctl add` before the gateway starts). Create makes the
  // test directory with repos/ and home/ in it.
  static absl::StatusOr<std::unique_ptr<GatewayHarness>> Create();
  // StartUpstream runs `script` with --port-file=<dir>/upstream.port,
  // --record=<dir>/upstream.jsonl and `args`, its output in
  // <dir>/upstream.log, and waits for its port.
  absl::Status StartUpstream(const std::string& script,
                             const std::vector<std::string>& args);
  // StartStack starts the stack with the upstream as its origin.
  absl::Status StartStack(StackOptions options);
  // StartGateway starts `latchkey-mcp --gateway` against the stack's
  // broker and waits for its `gateway_listening` line.
  absl::Status StartGateway();
  ~GatewayHarness();

  // Sh runs `command` with bash in the test directory, with git isolated
  // from the machine's configuration and the token in $LK_GW_TOKEN.
  Ran Sh(const std::string& command);
  // Curl runs curl against the gateway with the token as a bearer and
  // writes the body to `body_file`; the output starts with the status.
  Ran Curl(const std::string& args, const std::string& path,
           const std::string& body_file = "body.out");
  // CurlWithoutToken is Curl without the bearer: `args` bring their own
  // credentials, or none.
  Ran CurlWithoutToken(const std::string& args, const std::string& path,
                       const std::string& body_file = "body.out");
  static int StatusOf(const Ran& ran);

  const std::string& dir() const { return dir_; }
  const std::string& base() const { return base_; }
  const std::string& upstream_port() const { return upstream_port_; }
  const std::string& outputs() const { return outputs_; }
  Stack& stack() { return *stack_; }
  ChildProcess& gateway() { return *gateway_; }
  std::string GatewayLog() const;

 private:
  GatewayHarness() = default;

  std::string dir_;
  std::string base_;
  std::string upstream_port_;
  std::string outputs_;
  std::unique_ptr<ChildProcess> upstream_;
  std::unique_ptr<Stack> stack_;
  std::unique_ptr<ChildProcess> gateway_;
};

// ShellQuote wraps `text` in single quotes for bash.
std::string ShellQuote(const std::string& text);

}  // namespace latchkey::testing

#endif  // LATCHKEY_TESTS_GATEWAY_HARNESS_H_
