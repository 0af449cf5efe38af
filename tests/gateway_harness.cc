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
template <typename F> std::string WaitFor(F read) {
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::string value;
  while (value.empty() && absl::Now() < deadline) {
    value = read();
    if (value.empty())
      absl::SleepFor(absl::Milliseconds(20));
  }
  return value;
}

} // namespace

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

absl::StatusOr<std::unique_ptr<GatewayHarness>>
GatewayHarness::Start(const std::string &upstream_script, StackOptions options,
                      const std::string &prepare) {
  std::unique_ptr<GatewayHarness> h(new GatewayHarness());
  char templ[] = "/tmp/lk-gws-XXXXXX";
  if (mkdtemp(templ) == nullptr)
    return absl::InternalError("mkdtemp failed");
  h->dir_ = templ;
  const std::string &d = h->dir_;
  mkdir((d + "/repos").c_str(), 0700);
  mkdir((d + "/home").c_str(), 0700);
  if (!prepare.empty()) {
    Ran made = h->Sh(prepare);
    if (made.exit_code != 0) {
      return absl::InternalError(absl::StrCat("prepare failed: ", made.output));
    }
  }
  std::ofstream(d + "/secret") << Stack::kSecret;
  auto upstream = ChildProcess::Start(
      {{"/usr/bin/python3", upstream_script,
        "--port-file=" + d + "/upstream.port",
        "--record=" + d + "/upstream.jsonl", "--secret-file=" + d + "/secret",
        "--repos=" + d + "/repos"},
       {},
       d + "/upstream.log",
       false});
  if (!upstream.ok())
    return upstream.status();
  h->upstream_ = *std::move(upstream);
  std::string port =
      WaitFor([&] { return ReadFileOrEmpty(d + "/upstream.port"); });
  if (port.empty())
    return absl::UnavailableError("upstream not up");

  options.start_mcp = false;
  options.upstream_origin = "http://127.0.0.1:" + port;
  auto stack = Stack::Start(options);
  if (!stack.ok())
    return stack.status();
  h->stack_ = *std::move(stack);

  auto gateway =
      ChildProcess::Start({{"mcp_adapter/latchkey-mcp",
                            "--broker_socket=" + h->stack_->run("broker.sock"),
                            "--gateway=127.0.0.1:0", "--gateway_only"},
                           {{"LATCHKEY_AGENT_TOKEN", h->stack_->agent_token()},
                            {"LATCHKEY_GATEWAY_TOKEN", kGatewayToken}},
                           d + "/gateway.log",
                           false});
  if (!gateway.ok())
    return gateway.status();
  h->gateway_ = *std::move(gateway);
  std::string line = WaitFor([&] {
    for (absl::string_view l : absl::StrSplit(h->GatewayLog(), '\n')) {
      if (absl::StrContains(l, "gateway_listening"))
        return std::string(l);
    }
    return std::string();
  });
  if (line.empty()) {
    return absl::UnavailableError("gateway not up: " + h->GatewayLog());
  }
  h->base_ =
      absl::StrCat("http://127.0.0.1:",
                   nlohmann::json::parse(line)["port"].get<std::string>());
  return h;
}

GatewayHarness::~GatewayHarness() {
  gateway_.reset();
  stack_.reset();
  upstream_.reset();
  if (!dir_.empty())
    std::system(("rm -rf " + ShellQuote(dir_)).c_str());
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
  // The status comes first, then curl's own error message, if any; the
  // exit code is curl's.
  return Sh(absl::StrCat("curl -sS -o ", body_file,
                         " -w '%{http_code}' -H \"Authorization: Bearer "
                         "$LK_GW_TOKEN\" ",
                         args, " ", ShellQuote(base_ + path),
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

} // namespace latchkey::testing
