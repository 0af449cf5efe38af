// Service templates end to end: `latchkeyctl add SERVICE --internal_origin=...`
// against the real daemons, with a loopback upstream per service that checks
// the credential the way that service does
// (tests/upstream/template_upstream.py). For six auth shapes (Bearer, custom
// header, header template, Basic with a username, query parameter, HMAC query
// signing) the template's health request made by an agent through MCP gets 200,
// and the same template with a wrong credential gets the upstream's 401.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/mcp_test_client.h"
#include "tests/stack.h"

namespace latchkey::testing {
namespace {

using nlohmann::json;

// One template and how its stand-in upstream checks the credential.
struct Case {
  std::string service;
  std::vector<std::string> upstream_args;  // --scheme ... for template_upstream
  std::string add_flags;                   // extra `latchkeyctl add` flags
  std::string secret;
  std::string path;  // the template's health path
};

std::vector<Case> Cases() {
  return {
      {"github",
       {"--scheme=header", "--name=Authorization", "--prefix=Bearer "},
       "",
       "github_pat_11AAtemplateE2E0001",
       "/user"},
      {"gitlab",
       {"--scheme=header", "--name=PRIVATE-TOKEN"},
       "",
       "glpat-templateE2E0002xyz",
       "/api/v4/user"},
      {"pagerduty",
       {"--scheme=header", "--name=Authorization", "--prefix=Token token="},
       "",
       "y_NbAkKc66ryYTWUXYEu",
       "/abilities"},
      {"twilio",
       {"--scheme=basic", "--user=AC0123456789abcdef0123456789abcdef"},
       " --username=AC0123456789abcdef0123456789abcdef",
       "twilio-auth-token-templateE2E3",
       "/2010-04-01/Accounts.json"},
      {"pipedrive",
       {"--scheme=query", "--name=api_token"},
       "",
       "0123456789abcdef0123456789abcdef01234567",
       "/v1/users/me"},
      // HMAC request signing (the vault's hmac scheme): the upstream
      // recomputes Binance's query signature.
      {"binance",
       {"--scheme=binance", "--key-id=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zv"},
       " --auth_field=key_id=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zv",
       "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
       "/api/v3/account"},
  };
}

std::string ReadAll(const std::string& path) { return ReadFileOrEmpty(path); }

class TemplatesEndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    StackOptions options;
    options.start_mcp = false;  // started after the capabilities exist
    auto stack = Stack::Start(options);
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
  }
  static void TearDownTestSuite() {
    delete client_;
    client_ = nullptr;
    mcp_.reset();
    upstreams_.clear();
    delete stack_;
  }

  // StartUpstream starts template_upstream.py for `c` and returns its origin.
  static std::string StartUpstream(const Case& c) {
    const std::string base = stack_->dir() + "/up-" + c.service;
    std::ofstream(base + ".secret") << c.secret;
    std::vector<std::string> argv = {
        "/usr/bin/python3", "tests/upstream/template_upstream.py",
        "--secret-file=" + base + ".secret", "--port-file=" + base + ".port",
        "--record=" + base + ".jsonl"};
    argv.insert(argv.end(), c.upstream_args.begin(), c.upstream_args.end());
    auto child = ChildProcess::Start({argv, {}, base + ".log", false});
    EXPECT_TRUE(child.ok()) << child.status();
    if (!child.ok()) return "";
    upstreams_.push_back(std::move(*child));
    std::string port;
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (port.empty() && absl::Now() < deadline) {
      port = ReadAll(base + ".port");
      if (port.empty()) absl::SleepFor(absl::Milliseconds(20));
    }
    EXPECT_FALSE(port.empty()) << "upstream for " << c.service << " not up";
    return "http://127.0.0.1:" + port;
  }

  // Ctl runs latchkeyctl with `stdin_text` on stdin; returns its exit code
  // and puts stdout+stderr in *output.
  static int Ctl(const std::string& args, const std::string& stdin_text,
                 std::string* output) {
    const std::string in = stack_->dir() + "/ctl.in";
    const std::string out = stack_->dir() + "/ctl.out";
    std::ofstream(in) << stdin_text << "\n";
    std::string command =
        absl::StrCat("ctl/latchkeyctl --run_dir=", stack_->dir(), "/run ", args,
                     " < '", in, "' > '", out, "' 2>&1");
    int status = std::system(command.c_str());
    unlink(in.c_str());
    *output = ReadAll(out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  static json Execute(const std::string& capability, const std::string& path) {
    auto result = client_->CallTool(
        "execute",
        {{"capability", capability}, {"method", "GET"}, {"path", path}});
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : json();
  }

  static size_t UpstreamCount(const std::string& service) {
    std::vector<std::string> lines =
        absl::StrSplit(ReadAll(stack_->dir() + "/up-" + service + ".jsonl"),
                       '\n', absl::SkipEmpty());
    return lines.size();
  }

  static json LastUpstreamRequest(const std::string& service) {
    std::vector<std::string> lines =
        absl::StrSplit(ReadAll(stack_->dir() + "/up-" + service + ".jsonl"),
                       '\n', absl::SkipEmpty());
    return lines.empty() ? json() : json::parse(lines.back());
  }

  static Stack* stack_;
  static std::vector<std::unique_ptr<ChildProcess>> upstreams_;
  static std::unique_ptr<ChildProcess> mcp_;
  static McpTestClient* client_;
};

Stack* TemplatesEndToEndTest::stack_ = nullptr;
std::vector<std::unique_ptr<ChildProcess>> TemplatesEndToEndTest::upstreams_;
std::unique_ptr<ChildProcess> TemplatesEndToEndTest::mcp_;
McpTestClient* TemplatesEndToEndTest::client_ = nullptr;

TEST_F(TemplatesEndToEndTest, SixAuthShapesReachTheirUpstream) {
  std::vector<std::pair<Case, std::string>> added;
  for (const Case& c : Cases()) {
    const std::string origin = StartUpstream(c);
    ASSERT_FALSE(origin.empty());
    std::string output;
    // The right credential, under the template's own name.
    ASSERT_EQ(Ctl(absl::StrCat("add ", c.service, " --internal_origin=", origin,
                               " --agents=demo-agent", c.add_flags),
                  c.secret, &output),
              0)
        << output;
    EXPECT_TRUE(
        absl::StrContains(output, "Created capability \"" + c.service + "\""))
        << output;
    EXPECT_TRUE(absl::StrContains(output, "GET " + origin + c.path)) << output;
    EXPECT_FALSE(absl::StrContains(output, c.secret)) << output;
    // A wrong credential, under another name.
    ASSERT_EQ(Ctl(absl::StrCat("add ", c.service, " --name=", c.service,
                               "-wrong --internal_origin=", origin,
                               " --agents=demo-agent", c.add_flags),
                  "wrong-" + c.secret, &output),
              0)
        << output;
    added.push_back({c, origin});
  }

  auto mcp = stack_->StartMcp(stack_->agent_token(), "mcp-templates");
  ASSERT_TRUE(mcp.ok()) << mcp.status();
  mcp_ = std::move(*mcp);
  client_ = new McpTestClient(mcp_.get());
  ASSERT_TRUE(client_->Initialize().ok());

  for (const auto& [c, origin] : added) {
    json ok = Execute(c.service, c.path);
    EXPECT_FALSE(ok.value("isError", false)) << c.service << ok.dump();
    EXPECT_EQ(ok["structuredContent"]["status"], 200)
        << c.service << ": " << ok.dump();
    json sent = LastUpstreamRequest(c.service);
    EXPECT_EQ(sent["path"], c.path) << c.service;
    EXPECT_FALSE(absl::StrContains(ok.dump(), c.secret)) << c.service;

    json refused = Execute(c.service + "-wrong", c.path);
    EXPECT_EQ(refused["structuredContent"]["status"], 401)
        << c.service << ": " << refused.dump();

    // Read only: a write to the same path never reaches the upstream.
    size_t before = UpstreamCount(c.service);
    auto write = client_->CallTool(
        "execute",
        {{"capability", c.service}, {"method", "POST"}, {"path", c.path}});
    ASSERT_TRUE(write.ok());
    EXPECT_TRUE(write->value("isError", false)) << write->dump();
    EXPECT_EQ(UpstreamCount(c.service), before) << c.service;
  }

  // Adding the same service again changes nothing and says why.
  std::string output;
  EXPECT_EQ(Ctl("add github --internal_origin=" + added[0].second +
                    " --agents=demo-agent",
                "another-token", &output),
            1);
  EXPECT_TRUE(absl::StrContains(output, "already exists")) << output;
  json still = Execute("github", "/user");
  EXPECT_EQ(still["structuredContent"]["status"], 200) << still.dump();
}

TEST_F(TemplatesEndToEndTest, UnknownAgentCreatesNothing) {
  std::string output;
  EXPECT_EQ(
      Ctl("add sentry --internal_origin=http://127.0.0.1:9 --agents=nobody",
          "sntrys_unused", &output),
      1);
  EXPECT_TRUE(absl::StrContains(output, "no agent named \"nobody\"")) << output;
  ASSERT_EQ(Ctl("secret list", "", &output), 0) << output;
  EXPECT_FALSE(absl::StrContains(output, "\"sentry\"")) << output;
}

TEST_F(TemplatesEndToEndTest, SearchListsTemplates) {
  std::string output;
  ASSERT_EQ(Ctl("search git", "", &output), 0) << output;
  EXPECT_TRUE(absl::StrContains(output, "github")) << output;
  EXPECT_TRUE(absl::StrContains(output, "gitlab")) << output;
  EXPECT_FALSE(absl::StrContains(output, "stripe")) << output;
  EXPECT_EQ(Ctl("search no-such-service-xyz", "", &output), 1);
}

}  // namespace
}  // namespace latchkey::testing
