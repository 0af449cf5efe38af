// Stack starts the whole Latchkey stack for tests and benchmarks as real
// processes: an HTTP upstream on loopback, latchkey-audit, latchkey-vault
// (initialized, unsealed, holding one bearer token), latchkey-broker with a
// capability for that upstream, and optionally latchkey-mcp on pipes.
#ifndef LATCHKEY_TESTS_STACK_H_
#define LATCHKEY_TESTS_STACK_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/process.h"

namespace latchkey::testing {

struct StackOptions {
  // Where the built binaries are, relative to the working directory (the
  // runfiles tree under bazel test/run).
  std::string bin_dir = ".";
  // upstream_origin, when set, is used instead of starting the echo
  // upstream (for example nginx in the benchmark).
  std::string upstream_origin;
  bool start_mcp = true;
  // base_dir holds the stack's temporary directory (state and sockets).
  // The benchmark uses /dev/shm to separate fsync cost from the rest.
  std::string base_dir = "/tmp";
  // upstream_internal marks the upstream's origin internal (PutSecret
  // internal_origins), as a loopback upstream needs; false binds it as an
  // ordinary origin, which the vault refuses to connect to on loopback.
  bool upstream_internal = true;
  // vault_command_prefix, when set, is prepended to the vault's command
  // line, e.g. to run it in a private mount namespace with a test hosts
  // file (tests/ssrf_test.cc).
  std::vector<std::string> vault_command_prefix;
  // state_dir, when set, runs the daemons on the existing state
  // directories state_dir/{vault,broker,audit} (for example restored from
  // a backup): the vault is neither initialized nor given a secret (it is
  // unsealed with unseal_keys), the broker gets no --config (it runs on
  // the configuration in its database) and the agent uses agent_token.
  // upstream_origin should then name the upstream the state was made for.
  std::string state_dir;
  std::vector<std::string> unseal_keys;
  std::string agent_token;
  // demo_limits is the body of the demo-api capability's limits { }.
  std::string demo_limits = "total_timeout_ms: 5000";
  // extra_config is appended to the broker's configuration, with every
  // "@ORIGIN@" replaced by the upstream's origin (for more capabilities on
  // the same secret, "demo-token", and agent, "demo-agent").
  std::string extra_config;
};

class Stack {
 public:
  static absl::StatusOr<std::unique_ptr<Stack>> Start(
      const StackOptions& options);
  ~Stack();

  // The secret stored in the vault and the agent's token.
  static constexpr char kSecret[] = "lk_test_S3cr3tT0ken_7f9c2a41b8e0d5";
  const std::string& agent_token() const { return agent_token_; }
  const std::string& dir() const { return dir_; }
  std::string run(const std::string& name) const {
    return dir_ + "/run/" + name;
  }
  const std::string& upstream_origin() const { return upstream_origin_; }
  // The unseal shares Init returned (the stack initializes 1 of 1).
  const std::vector<std::string>& unseal_keys() const { return unseal_keys_; }
  const std::string& unseal_key() const { return unseal_keys_.at(0); }
  std::string upstream_record_path() const { return dir_ + "/upstream.jsonl"; }
  std::string log_path(const std::string& daemon) const {
    return dir_ + "/" + daemon + ".log";
  }
  std::string audit_log_path() const {
    return state_dir("audit") + "/audit.log";
  }
  // state_dir is the state directory of "vault", "broker" or "audit".
  std::string state_dir(const std::string& daemon) const {
    return options_.state_dir.empty() ? dir_ + "/state/" + daemon
                                      : options_.state_dir + "/" + daemon;
  }

  ChildProcess* mcp() { return mcp_.get(); }
  ChildProcess* broker() { return broker_.get(); }
  ChildProcess* vault() { return vault_.get(); }
  ChildProcess* audit() { return audit_.get(); }

  // StartMcp launches another latchkey-mcp on pipes.
  absl::StatusOr<std::unique_ptr<ChildProcess>> StartMcp(
      const std::string& token, const std::string& log_name) const;
  // SealVault / UnsealVault call the vault's admin service; UnsealVault
  // submits the shares one per call until the vault is unsealed.
  absl::Status SealVault();
  absl::Status UnsealVault();
  // RestartAudit stops the audit sink, and StartAudit starts it again.
  void StopAudit();
  absl::Status StartAudit();
  // StopDaemons stops the MCP adapter, broker, vault and audit sink (in
  // that order), leaving the upstream running.
  void StopDaemons();

 private:
  Stack() = default;
  absl::Status StartAll(const StackOptions& options);
  absl::Status StartOnExistingState(const StackOptions& options);

  StackOptions options_;
  std::string dir_;
  std::string agent_token_;
  std::string upstream_origin_;
  std::vector<std::string> unseal_keys_;
  std::unique_ptr<ChildProcess> upstream_;
  std::unique_ptr<ChildProcess> audit_;
  std::unique_ptr<ChildProcess> vault_;
  std::unique_ptr<ChildProcess> broker_;
  std::unique_ptr<ChildProcess> mcp_;
};

}  // namespace latchkey::testing

#endif  // LATCHKEY_TESTS_STACK_H_
