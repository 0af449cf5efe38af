#include "tests/gateway_harness.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"

namespace latchkey::testing {
namespace {

// WaitFor polls `read` until it returns something (20 s at most).
template <typename F>
std::string WaitFor(F read) {
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::string value;
  while (value.empty() && absl::Now() < deadline) {
    value = read();
    if (value.empty()) absl::SleepFor(absl::Milliseconds(20));
  }
  return value;
}

}  // namespace

std::string ShellQuote(const std::string &text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

absl::StatusOr<std::unique_ptr<GatewayHarness>> GatewayHarness::Start(
    const std::string &upstream_script, StackOptions options,
    const std::string &prepare) {
  auto h = Create();
  if (!h.ok()) return h.status();
  const std::string &d = (*h)->dir_;
  if (!prepare.empty()) {
    Ran made = (*h)->Sh(prepare);
    if (made.exit_code != 0) {
      return absl::InternalError(absl::StrCat("prepare failed: ", made.output));
    }
  }
  std::ofstream(d + "/secret") << Stack::kSecret;
  absl::Status started = (*h)->StartUpstream(
      upstream_script,
      {"--secret-file=" + d + "/secret", "--repos=" + d + "/repos"});
  if (started.ok()) started = (*h)->StartStack(std::move(options));
  if (started.ok()) started = (*h)->StartGateway();
  if (!started.ok()) return started;
  return h;
}

absl::StatusOr<std::unique_ptr<GatewayHarness>> GatewayHarness::Create() {
  std::unique_ptr<GatewayHarness> h(new GatewayHarness());
  char templ[] = "/tmp/lk-gws-XXXXXX";
  if (mkdtemp(templ) == nullptr) return absl::InternalError("mkdtemp failed");
  h->dir_ = templ;
  mkdir((h->dir_ + "/repos").c_str(), 0700);
  mkdir((h->dir_ + "/home").c_str(), 0700);
  return h;
}

absl::Status GatewayHarness::StartUpstream(
    const std::string &script, const std::vector<std::string> &args) {
  const std::string &d = dir_;
  std::vector<std::string> argv = {"/usr/bin/python3", script,
                                   "--port-file=" + d + "/upstream.port",
                                   "--record=" + d + "/upstream.jsonl"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto upstream = ChildProcess::Start({argv, {}, d + "/upstream.log", false});
  if (!upstream.ok()) return upstream.status();
  upstream_ = *std::move(upstream);
  upstream_port_ =
      WaitFor([&] { return ReadFileOrEmpty(d + "/upstream.port"); });
  if (upstream_port_.empty()) {
    return absl::UnavailableError("upstream not up: " +
                                  ReadFileOrEmpty(d + "/upstream.log"));
  }
  return absl::OkStatus();
}

absl::Status GatewayHarness::StartStack(StackOptions options) {
  options.start_mcp = false;
  options.upstream_origin = "http://127.0.0.1:" + upstream_port_;
  auto stack = Stack::Start(options);
  if (!stack.ok()) return stack.status();
  stack_ = *std::move(stack);
  return absl::OkStatus();
}

absl::Status GatewayHarness::StartGateway() {
  auto gateway =
      ChildProcess::Start({{"mcp_adapter/latchkey-mcp",
                            "--broker_socket=" + stack_->run("broker.sock"),
                            "--gateway=127.0.0.1:0", "--gateway_only"},
                           {{"LATCHKEY_AGENT_TOKEN", stack_->agent_token()},
                            {"LATCHKEY_GATEWAY_TOKEN", kGatewayToken}},
                           dir_ + "/gateway.log",
                           false});
  if (!gateway.ok()) return gateway.status();
  gateway_ = *std::move(gateway);
  std::string line = WaitFor([&] {
    for (absl::string_view l : absl::StrSplit(GatewayLog(), '\n')) {
      if (absl::StrContains(l, "gateway_listening")) return std::string(l);
    }
    return std::string();
  });
  if (line.empty()) {
    return absl::UnavailableError("gateway not up: " + GatewayLog());
  }
  base_ = absl::StrCat("http://127.0.0.1:",
                       nlohmann::json::parse(line)["port"].get<std::string>());
  return absl::OkStatus();
}

GatewayHarness::~GatewayHarness() {
  gateway_.reset();
  stack_.reset();
  upstream_.reset();
  if (!dir_.empty()) std::system(("rm -rf " + ShellQuote(dir_)).c_str());
}

std::string GatewayHarness::GatewayLog() const {
  return ReadFileOrEmpty(dir_ + "/gateway.log");
}

Ran GatewayHarness::Sh(const std::string &command) {
  const std::string out = dir_ + "/sh.out";
  std::string full = absl::StrCat(
      "cd ", ShellQuote(dir_), " && env HOME=", ShellQuote(dir_ + "/home"),
      " GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 "
      "GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com "
      "GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com "
      "LK_GW_TOKEN=",
      kGatewayToken, " bash -c ", ShellQuote(command), " > ", ShellQuote(out),
      " 2>&1");
  int status = std::system(full.c_str());
  Ran ran;
  ran.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  ran.output = ReadFileOrEmpty(out);
  outputs_ += ran.output;
  return ran;
}

Ran GatewayHarness::Curl(const std::string &args, const std::string &path,
                         const std::string &body_file) {
  return CurlWithoutToken(
      absl::StrCat("-H \"Authorization: Bearer $LK_GW_TOKEN\" ", args), path,
      body_file);
}

Ran GatewayHarness::CurlWithoutToken(const std::string &args,
                                     const std::string &path,
                                     const std::string &body_file) {
  // The status comes first, then curl's own error message, if any; the
  // exit code is curl's.
  return Sh(absl::StrCat("curl -sS -o ", body_file, " -w '%{http_code}' ", args,
                         " ", ShellQuote(base_ + path),
                         " > status.out 2> curl.err; rc=$?; cat status.out; "
                         "echo; cat curl.err; exit $rc"));
}

int GatewayHarness::StatusOf(const Ran &ran) {
  int status = 0;
  if (!absl::SimpleAtoi(ran.output.substr(0, ran.output.find('\n')), &status)) {
    return -1;
  }
  return status;
}

}  // namespace latchkey::testing
