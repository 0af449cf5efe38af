#include "tests/stack.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "common/crypto.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "common/uds_server.h"
#include "proto/vault.grpc.pb.h"

namespace latchkey::testing {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(20);

std::unique_ptr<v1::VaultAdmin::Stub> VaultAdmin(const std::string& socket) {
  return v1::VaultAdmin::NewStub(CreateUdsChannel(socket));
}

absl::Status CallStatus(const grpc::Status& status) {
  return FromGrpcStatus(status);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Stack>> Stack::Start(
    const StackOptions& options) {
  std::unique_ptr<Stack> stack(new Stack);
  stack->options_ = options;
  LK_RETURN_IF_ERROR(stack->StartAll(options));
  return stack;
}

Stack::~Stack() {
  mcp_.reset();
  broker_.reset();
  vault_.reset();
  audit_.reset();
  upstream_.reset();
  if (!dir_.empty() && getenv("LATCHKEY_KEEP_TEST_DIR") == nullptr) {
    std::string cmd = "rm -rf '" + dir_ + "'";
    (void)!std::system(cmd.c_str());
  }
}

absl::Status Stack::StartAudit() {
  LK_ASSIGN_OR_RETURN(
      audit_,
      ChildProcess::Start({{options_.bin_dir + "/audit_sink/latchkey-audit",
                            "--socket=" + run("audit.sock"),
                            "--state_dir=" + state_dir("audit")},
                           {},
                           log_path("audit"),
                           false}));
  return WaitForSocket(run("audit.sock"), kStartTimeout);
}

void Stack::StopAudit() { audit_.reset(); }

void Stack::StopDaemons() {
  mcp_.reset();
  broker_.reset();
  vault_.reset();
  audit_.reset();
}

absl::Status Stack::SealVault() {
  grpc::ClientContext context;
  v1::VaultStatus status;
  return CallStatus(VaultAdmin(run("vault.sock"))
                        ->Seal(&context, v1::SealRequest(), &status));
}

absl::Status Stack::UnsealVault() {
  v1::VaultStatus status;
  for (size_t i = 0; i < unseal_keys_.size() && i < 3; ++i) {
    grpc::ClientContext context;
    v1::UnsealRequest unseal;
    unseal.set_key(unseal_keys_[i]);
    LK_RETURN_IF_ERROR(CallStatus(
        VaultAdmin(run("vault.sock"))->Unseal(&context, unseal, &status)));
    if (!status.sealed()) break;
  }
  if (status.sealed()) return absl::InternalError("vault still sealed");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ChildProcess>> Stack::StartMcp(
    const std::string& token, const std::string& log_name) const {
  return ChildProcess::Start({{options_.bin_dir + "/mcp_adapter/latchkey-mcp",
                               "--broker_socket=" + run("broker.sock")},
                              {{"LATCHKEY_AGENT_TOKEN", token}},
                              log_path(log_name),
                              true});
}

absl::Status Stack::StartAll(const StackOptions& options) {
  std::string templ = options.base_dir + "/lk-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    return absl::InternalError("mkdtemp failed in " + options.base_dir);
  }
  dir_ = templ;
  mkdir((dir_ + "/state").c_str(), 0700);

  // 1. The upstream.
  if (options.upstream_origin.empty()) {
    std::string port_file = dir_ + "/upstream.port";
    LK_ASSIGN_OR_RETURN(
        upstream_,
        ChildProcess::Start(
            {{"/usr/bin/python3",
              options.bin_dir + "/tests/upstream/echo_upstream.py",
              "--port-file=" + port_file, "--record=" + upstream_record_path()},
             {},
             log_path("upstream"),
             false}));
    absl::Time deadline = absl::Now() + kStartTimeout;
    std::string port;
    while (port.empty() && absl::Now() < deadline) {
      port = ReadFileOrEmpty(port_file);
      if (port.empty()) absl::SleepFor(absl::Milliseconds(20));
    }
    if (port.empty()) return absl::DeadlineExceededError("upstream not up");
    upstream_origin_ = "http://127.0.0.1:" + port;
  } else {
    upstream_origin_ = options.upstream_origin;
  }

  // 2. The audit sink.
  LK_RETURN_IF_ERROR(StartAudit());

  // 3. The vault: init, unseal, store the token bound to the upstream.
  std::vector<std::string> vault_argv = options.vault_command_prefix;
  for (std::string arg :
       {options.bin_dir + "/vault/latchkey-vault",
        "--socket=" + run("vault.sock"), "--state_dir=" + state_dir("vault"),
        "--audit_socket=" + run("audit.sock")}) {
    vault_argv.push_back(std::move(arg));
  }
  LK_ASSIGN_OR_RETURN(
      vault_, ChildProcess::Start(
                  {std::move(vault_argv), {}, log_path("vault"), false}));
  LK_RETURN_IF_ERROR(WaitForSocket(run("vault.sock"), kStartTimeout));
  if (!options.state_dir.empty()) return StartOnExistingState(options);
  {
    grpc::ClientContext context;
    // One share, threshold one: one key unseals (tests, stack_runner).
    v1::InitRequest request;
    request.set_shares(1);
    request.set_threshold(1);
    v1::InitResponse init;
    LK_RETURN_IF_ERROR(CallStatus(
        VaultAdmin(run("vault.sock"))->Init(&context, request, &init)));
    unseal_keys_.assign(init.unseal_keys().begin(), init.unseal_keys().end());
  }
  LK_RETURN_IF_ERROR(UnsealVault());
  {
    grpc::ClientContext context;
    v1::PutSecretRequest put;
    put.set_id("demo-token");
    put.set_value(kSecret);
    put.set_description("bearer token of the test upstream");
    // The test upstream listens on loopback, which the vault refuses
    // unless the origin is marked internal.
    if (options.upstream_internal) {
      put.add_internal_origins(upstream_origin_);
    } else {
      put.add_origins(upstream_origin_);
    }
    v1::SecretMetadata metadata;
    LK_RETURN_IF_ERROR(CallStatus(
        VaultAdmin(run("vault.sock"))->PutSecret(&context, put, &metadata)));
  }

  // 4. The broker, with one agent and one capability.
  LK_ASSIGN_OR_RETURN(std::string token_bytes, RandomBytes(32));
  agent_token_ = "lk_agent_" + HexEncode(token_bytes);
  std::string config = absl::StrCat(
      "agents { name: \"demo-agent\" token_sha256: \"", Sha256Hex(agent_token_),
      "\" }\n",
      "capabilities {\n"
      "  name: \"demo-api\"\n"
      "  description: \"The demo upstream API. GET and POST under /v1/.\"\n"
      "  secret_id: \"demo-token\"\n"
      "  origin: \"",
      upstream_origin_,
      "\"\n"
      "  rules { effect: ALLOW methods: \"GET\" methods: \"POST\" "
      "path: \"/v1/**\" }\n"
      "  rules { effect: DENY methods: \"*\" path: \"/v1/admin/**\" }\n"
      "  agents: \"demo-agent\"\n"
      "  limits { ",
      options.demo_limits,
      " }\n"
      "}\n");
  config += absl::StrReplaceAll(options.extra_config,
                                {{"@ORIGIN@", upstream_origin_}});
  std::string config_path = dir_ + "/broker.textproto";
  std::ofstream(config_path) << config;
  LK_ASSIGN_OR_RETURN(
      broker_,
      ChildProcess::Start(
          {{options.bin_dir + "/broker/latchkey-broker",
            "--socket=" + run("broker.sock"),
            "--admin_socket=" + run("admin.sock"),
            "--vault_socket=" + run("vault.sock"),
            "--audit_socket=" + run("audit.sock"), "--config=" + config_path,
            "--state_dir=" + dir_ + "/state/broker"},
           {},
           log_path("broker"),
           false}));
  LK_RETURN_IF_ERROR(WaitForSocket(run("broker.sock"), kStartTimeout));
  LK_RETURN_IF_ERROR(WaitForSocket(run("admin.sock"), kStartTimeout));

  // 5. The MCP adapter, on pipes, as an agent client would run it.
  if (options.start_mcp) {
    LK_ASSIGN_OR_RETURN(mcp_, StartMcp(agent_token_, "mcp"));
  }
  return absl::OkStatus();
}

// StartOnExistingState finishes StartAll on restored state: unseal with the
// given keys and start the broker without --config, on the configuration
// stored in its database.
absl::Status Stack::StartOnExistingState(const StackOptions& options) {
  unseal_keys_ = options.unseal_keys;
  agent_token_ = options.agent_token;
  LK_RETURN_IF_ERROR(UnsealVault());
  LK_ASSIGN_OR_RETURN(
      broker_,
      ChildProcess::Start({{options.bin_dir + "/broker/latchkey-broker",
                            "--socket=" + run("broker.sock"),
                            "--admin_socket=" + run("admin.sock"),
                            "--vault_socket=" + run("vault.sock"),
                            "--audit_socket=" + run("audit.sock"),
                            "--state_dir=" + state_dir("broker")},
                           {},
                           log_path("broker"),
                           false}));
  LK_RETURN_IF_ERROR(WaitForSocket(run("broker.sock"), kStartTimeout));
  LK_RETURN_IF_ERROR(WaitForSocket(run("admin.sock"), kStartTimeout));
  if (options.start_mcp) {
    LK_ASSIGN_OR_RETURN(mcp_, StartMcp(agent_token_, "mcp"));
  }
  return absl::OkStatus();
}

}  // namespace latchkey::testing
