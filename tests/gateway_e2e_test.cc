// The keyless HTTP gateway (latchkey-mcp --gateway) end to end, with real
// tools: curl and git (clone and push) against a loopback git server
// (`git http-backend` behind tests/upstream/git_upstream.py) that accepts
// only the credential the vault injects. The tools hold only the gateway
// token; the leak scan checks the gateway's memory, its log and every
// tool output for the secret.
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/gateway_harness.h"
#include "tests/leak_scan.h"
#include "tests/process.h"
#include "tests/stack.h"

namespace latchkey::testing {
namespace {

using nlohmann::json;

constexpr const char* kGatewayToken = GatewayHarness::kGatewayToken;

class GatewayEndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // A bare repository with two commits and a 3 MiB random file, so the
    // pack is several MiB (whole-body forwarding, below the 10 MiB cap).
    const std::string prepare =
        "set -e; git init -q -b main src && cd src && "
        "echo 'hello from the gateway test' > README && "
        "head -c 3145728 /dev/urandom > blob.bin && git add . && "
        "git commit -qm first && echo second >> README && "
        "git commit -qam second && cd .. && "
        "git clone -q --bare src repos/project.git && "
        "git --git-dir=repos/project.git config http.receivepack true";
    auto harness = GatewayHarness::Start("tests/upstream/git_upstream.py",
                                         StackOptions(), prepare);
    ASSERT_TRUE(harness.ok()) << harness.status();
    h_ = harness->release();
    last_body_ = new std::string();
  }

  static void TearDownTestSuite() {
    delete h_;
    h_ = nullptr;
    delete last_body_;
    last_body_ = nullptr;
  }

  static Ran Sh(const std::string& command) { return h_->Sh(command); }
  // Curl runs curl against the gateway with `args` as the only
  // credentials; the output starts with the status. The body is read back
  // with Sh, so the leak scan sees it too (BodyText(), Body()).
  static Ran Curl(const std::string& args, const std::string& path) {
    Ran ran = h_->CurlWithoutToken(args, path);
    *last_body_ = h_->Sh("cat body.out").output;
    return ran;
  }
  static int StatusOf(const Ran& ran) { return GatewayHarness::StatusOf(ran); }
  // BodyText is the body of the last Curl; Body is it parsed as JSON.
  static const std::string& BodyText() { return *last_body_; }
  static json Body() { return json::parse(BodyText(), nullptr, false); }

  static std::vector<json> UpstreamRecords() {
    std::vector<json> records;
    for (absl::string_view line :
         absl::StrSplit(ReadFileOrEmpty(h_->dir() + "/upstream.jsonl"), '\n')) {
      if (!line.empty()) records.push_back(json::parse(line));
    }
    return records;
  }

  static GatewayHarness* h_;
  static std::string* last_body_;
};

GatewayHarness* GatewayEndToEndTest::h_ = nullptr;
std::string* GatewayEndToEndTest::last_body_ = nullptr;

const std::string kBearer =
    absl::StrCat("-H 'Authorization: Bearer ", kGatewayToken, "'");

TEST_F(GatewayEndToEndTest, CurlAllowedRequestGetsTheUpstreamAnswer) {
  Ran ran = Curl(kBearer + " -X POST --data-binary 'abc'",
                 "/demo-api/v1/echo/items?q=a%20b&q=c");
  ASSERT_EQ(StatusOf(ran), 200) << ran.output;
  json body = Body();
  EXPECT_EQ(body["method"], "POST");
  EXPECT_EQ(body["path"], "/v1/echo/items");
  EXPECT_EQ(body["query"], json::parse(R"([["q","a b"],["q","c"]])"));
  EXPECT_EQ(body["body_bytes"], 3);
  EXPECT_EQ(UpstreamRecords().back()["auth"], "vault");
}

// An upstream that reflects the credential: the vault scrubs it from the
// body and the headers before the gateway hands the answer to curl.
TEST_F(GatewayEndToEndTest, ReflectedCredentialIsScrubbed) {
  Ran ran = Sh(absl::StrCat("curl -sS -i ", kBearer, " '", h_->base(),
                            "/demo-api/v1/reflect'"));
  ASSERT_EQ(ran.exit_code, 0) << ran.output;
  EXPECT_TRUE(absl::StrContains(ran.output, "200")) << ran.output;
  EXPECT_TRUE(absl::StrContains(ran.output, "received: [REDACTED:latchkey]"))
      << ran.output;
  EXPECT_TRUE(absl::StrContains(ran.output, "X-Echo-Auth: [REDACTED:latchkey]"))
      << ran.output;
  EXPECT_FALSE(absl::StrContains(ran.output, Stack::kSecret));
}

TEST_F(GatewayEndToEndTest, CurlWithoutOrWithWrongTokenIs401) {
  Ran none = Curl("", "/demo-api/v1/echo");
  EXPECT_EQ(StatusOf(none), 401) << none.output;
  EXPECT_EQ(Body()["error"], "UNAUTHORIZED");
  Ran wrong = Curl("-H 'Authorization: Bearer gw_wrong_0000000000000000'",
                   "/demo-api/v1/echo");
  EXPECT_EQ(StatusOf(wrong), 401) << wrong.output;
  Ran user =
      Curl(absl::StrCat("-u '", kGatewayToken, ":'"), "/demo-api/v1/echo");
  EXPECT_EQ(StatusOf(user), 401) << "token as user name must not pass";
  // The token as the Basic password (what git's credential helper sends).
  Ran basic = Curl(absl::StrCat("-u 'anyone:", kGatewayToken, "'"),
                   "/demo-api/v1/echo/basic");
  EXPECT_EQ(StatusOf(basic), 200) << basic.output;
  // A non-loopback Host (DNS rebinding) is refused.
  Ran host = Curl(kBearer + " -H 'Host: evil.example'", "/demo-api/v1/echo");
  EXPECT_EQ(StatusOf(host), 403) << host.output;
}

TEST_F(GatewayEndToEndTest, CurlDeniedRequestsGetStatusAndReason) {
  Ran rule = Curl(kBearer, "/demo-api/v1/admin/users");
  EXPECT_EQ(StatusOf(rule), 403) << rule.output;
  EXPECT_EQ(Body()["error"], "RULE_DENY");
  EXPECT_FALSE(Body()["next_step"].get<std::string>().empty());
  Ran unmatched = Curl(kBearer, "/demo-api/other");
  EXPECT_EQ(StatusOf(unmatched), 403) << unmatched.output;
  EXPECT_EQ(Body()["error"], "NO_RULE_MATCHED");
  Ran method = Curl(kBearer + " -X DELETE", "/demo-api/v1/echo");
  EXPECT_EQ(StatusOf(method), 403) << method.output;
  Ran unknown = Curl(kBearer, "/no-such-capability/v1/echo");
  EXPECT_EQ(StatusOf(unknown), 404) << unknown.output;
  EXPECT_EQ(Body()["error"], "CAPABILITY_NOT_FOUND");
  Ran empty = Curl(kBearer, "/");
  EXPECT_EQ(StatusOf(empty), 404) << empty.output;
  // Nothing denied reached the upstream.
  for (const json& record : UpstreamRecords()) {
    EXPECT_FALSE(absl::StrContains(record["path"].get<std::string>(), "admin"));
    EXPECT_NE(record["method"], "DELETE");
  }
}

TEST_F(GatewayEndToEndTest, ClientCredentialsAndSignaturesAreDiscarded) {
  Ran ran =
      Curl(absl::StrCat(
               "-u 'x:", kGatewayToken, "' ",
               "-H 'X-Amz-Date: 20260101T000000Z' "
               "-H 'X-Amz-Security-Token: client-session-token' "
               "-H 'X-Amz-Content-Sha256: UNSIGNED-PAYLOAD' "
               "-H 'Cookie: sid=client' -H 'Proxy-Authorization: Basic eA==' "
               "-H 'Accept-Encoding: gzip' -H 'X-Custom: kept'"),
           "/demo-api/v1/echo/headers");
  ASSERT_EQ(StatusOf(ran), 200) << ran.output;
  json record = UpstreamRecords().back();
  EXPECT_EQ(record["auth"], "vault");
  std::vector<std::string> names;
  for (const auto& [name, value] : record["headers"].items()) {
    names.push_back(absl::AsciiStrToLower(name));
  }
  for (const char* dropped :
       {"x-amz-date", "x-amz-security-token", "x-amz-content-sha256", "cookie",
        "proxy-authorization"}) {
    EXPECT_EQ(std::count(names.begin(), names.end(), dropped), 0) << dropped;
  }
  // The client's Accept-Encoding is dropped; the vault asks for identity
  // itself, so that answers stay readable to its scrubber.
  EXPECT_EQ(std::count(names.begin(), names.end(), "accept-encoding"), 1);
  for (const auto& [name, value] : record["headers"].items()) {
    if (absl::EqualsIgnoreCase(name, "accept-encoding")) {
      EXPECT_EQ(value, "identity");
    }
  }
  EXPECT_EQ(std::count(names.begin(), names.end(), "x-custom"), 1);
}

// An AWS-style client: curl signs the request with SigV4, using the
// gateway token as its access key id. The gateway accepts the token and
// discards the whole signature; the upstream sees only the vault's
// credential. (This capability injects a bearer; the real aws CLI with
// the vault re-signing with SigV4 is tests/gateway_aws_e2e_test.cc.)
TEST_F(GatewayEndToEndTest, SigV4SignedClientRequestIsReauthenticated) {
  Ran ran = Curl(
      absl::StrCat("--aws-sigv4 'aws:amz:us-east-1:s3' --user '", kGatewayToken,
                   ":client-fake-secret' "
                   "-H 'X-Amz-Security-Token: client-session'"),
      "/demo-api/v1/echo/bucket?list-type=2");
  ASSERT_EQ(StatusOf(ran), 200) << ran.output;
  json record = UpstreamRecords().back();
  EXPECT_EQ(record["auth"], "vault");
  for (const auto& [name, value] : record["headers"].items()) {
    EXPECT_FALSE(absl::StartsWithIgnoreCase(name, "x-amz-")) << name;
  }
  Ran wrong =
      Curl("--aws-sigv4 'aws:amz:us-east-1:s3' --user 'AKIAIOSFODNN7EXAMPLE:x'",
           "/demo-api/v1/echo/bucket");
  EXPECT_EQ(StatusOf(wrong), 401) << wrong.output;
}

TEST_F(GatewayEndToEndTest, GitCloneAndPushThroughTheGateway) {
  const std::string url = h_->base() + "/demo-api/v1/git/project.git";
  // Clone with the token from a credential helper (HTTP Basic password).
  Ran clone =
      Sh(absl::StrCat("GIT_TRACE_CURL=1 GIT_TRACE_CURL_NO_DATA=1 git "
                      "-c credential.helper= "
                      "-c 'credential.helper=!f() { echo username=latchkey; "
                      "echo password=$LK_GW_TOKEN; }; f' clone ",
                      url, " work"));
  ASSERT_EQ(clone.exit_code, 0) << clone.output;
  Ran check =
      Sh("cd work && cat README && git log --oneline | wc -l && "
         "cmp blob.bin ../src/blob.bin && echo same");
  EXPECT_EQ(check.output, "hello from the gateway test\nsecond\n2\nsame\n");

  // Push with the token as a bearer header (http.extraHeader).
  Ran push = Sh(absl::StrCat(
      "cd work && echo pushed > pushed.txt && git add pushed.txt && "
      "git commit -qm third && GIT_TRACE_CURL=1 GIT_TRACE_CURL_NO_DATA=1 git "
      "-c \"http.extraHeader=Authorization: Bearer $LK_GW_TOKEN\" "
      "push origin main"));
  ASSERT_EQ(push.exit_code, 0) << push.output;
  Ran head =
      Sh("git --git-dir=repos/project.git log -1 --format=%s main && "
         "git --git-dir=repos/project.git show main:pushed.txt");
  EXPECT_EQ(head.output, "third\npushed\n");

  // Every request git made reached the upstream with the vault's
  // credential, never the gateway token.
  int git_requests = 0;
  for (const json& record : UpstreamRecords()) {
    if (!absl::StartsWith(record["path"].get<std::string>(), "/v1/git/")) {
      continue;
    }
    ++git_requests;
    EXPECT_EQ(record["auth"], "vault") << record.dump();
  }
  EXPECT_GE(git_requests, 4);  // refs + pack for clone, refs + pack for push
  EXPECT_FALSE(absl::StrContains(ReadFileOrEmpty(h_->dir() + "/upstream.jsonl"),
                                 kGatewayToken));
}

// Several tools at once share the gateway (and its one broker session).
TEST_F(GatewayEndToEndTest, ConcurrentClonesAndRequests) {
  const std::string url = h_->base() + "/demo-api/v1/git/project.git";
  std::string script = "set -e; pids=; ";
  for (int i = 0; i < 3; ++i) {
    absl::StrAppend(&script, "git -c \"http.extraHeader=Authorization: Bearer ",
                    "$LK_GW_TOKEN\" clone -q ", url, " par", i,
                    " & pids=\"$pids $!\"; ");
  }
  for (int i = 0; i < 8; ++i) {
    absl::StrAppend(&script, "curl -sS -o /dev/null -w '%{http_code}\\n' ",
                    "-H \"Authorization: Bearer $LK_GW_TOKEN\" ", h_->base(),
                    "/demo-api/v1/echo/par", i, " > par-curl", i, " & ");
  }
  absl::StrAppend(&script, "for p in $pids; do wait $p; done; wait; ",
                  "cat par-curl*; for i in 0 1 2; do git -C par$i log ",
                  "--oneline | wc -l; done");
  Ran ran = Sh(script);
  ASSERT_EQ(ran.exit_code, 0) << ran.output;
  std::vector<std::string> lines = absl::StrSplit(ran.output, '\n');
  ASSERT_GE(lines.size(), 11u) << ran.output;
  for (int i = 0; i < 8; ++i) EXPECT_EQ(lines[i], "200") << ran.output;
  // Three commits: two from the fixture, one from the push test above.
  for (int i = 8; i < 11; ++i) EXPECT_EQ(lines[i], "3") << ran.output;
}

TEST_F(GatewayEndToEndTest, ResponsesOverTheLimitAre502NotTruncated) {
  Ran ran = Curl(kBearer, "/demo-api/v1/huge?bytes=11534336");  // 11 MiB
  EXPECT_EQ(StatusOf(ran), 502) << ran.output.substr(0, 200);
  EXPECT_EQ(Body()["error"], "RESPONSE_TOO_LARGE");
  Ran fits = Curl(kBearer, "/demo-api/v1/huge?bytes=8388608");  // 8 MiB
  EXPECT_EQ(StatusOf(fits), 200);
  EXPECT_EQ(BodyText().size(), 8388608u);
}

// A sealed vault is a 503 with the reason, and the next request after
// unsealing works again.
TEST_F(GatewayEndToEndTest, SealedVaultIs503) {
  ASSERT_TRUE(h_->stack().SealVault().ok());
  Ran sealed = Curl(kBearer, "/demo-api/v1/echo/sealed");
  EXPECT_EQ(StatusOf(sealed), 503) << sealed.output;
  EXPECT_EQ(Body()["error"], "VAULT_SEALED") << sealed.output;
  ASSERT_TRUE(h_->stack().UnsealVault().ok());
  Ran open = Curl(kBearer, "/demo-api/v1/echo/unsealed");
  EXPECT_EQ(StatusOf(open), 200) << open.output;
}

// Bad start-up flags: the process refuses before serving anything.
TEST_F(GatewayEndToEndTest, RefusesPublicAddressAndMissingToken) {
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  const std::string mcp = absl::StrCat(cwd, "/mcp_adapter/latchkey-mcp");
  Ran public_address = Sh(absl::StrCat(
      "LATCHKEY_AGENT_TOKEN=x LATCHKEY_GATEWAY_TOKEN=\"$LK_GW_TOKEN\" '", mcp,
      "' --gateway=0.0.0.0:0 --gateway_only < /dev/null; echo \"exit=$?\""));
  EXPECT_TRUE(absl::StrContains(public_address.output, "bad_gateway_address"))
      << public_address.output;
  EXPECT_TRUE(absl::StrContains(public_address.output, "exit=2"));
  Ran no_token = Sh(absl::StrCat("LATCHKEY_AGENT_TOKEN=x '", mcp,
                                 "' --gateway=127.0.0.1:0 --gateway_only "
                                 "< /dev/null; echo \"exit=$?\""));
  EXPECT_TRUE(absl::StrContains(no_token.output, "no_gateway_token"))
      << no_token.output;
  EXPECT_TRUE(absl::StrContains(no_token.output, "exit=2"));
  // Next to stdio MCP: the process ends at stdin EOF, gateway included.
  Ran with_stdio = Sh(absl::StrCat(
      "LATCHKEY_AGENT_TOKEN=x LATCHKEY_GATEWAY_TOKEN=\"$LK_GW_TOKEN\" "
      "timeout 20 '",
      mcp,
      "' --broker_socket=/nonexistent --gateway=127.0.0.1:0 < /dev/null; "
      "echo \"exit=$?\""));
  EXPECT_TRUE(absl::StrContains(with_stdio.output, "gateway_listening"))
      << with_stdio.output;
  EXPECT_TRUE(absl::StrContains(with_stdio.output, "exit=0"))
      << with_stdio.output;
}

// Last: the leak scan over the gateway process, its log and every output
// the tools produced above.
TEST_F(GatewayEndToEndTest, ZZLeakScan) {
  std::vector<std::string> forms = SecretForms(Stack::kSecret);
  std::vector<std::string> found = FindForms(h_->outputs(), forms);
  EXPECT_TRUE(found.empty()) << "a tool output holds " << found[0];
  EXPECT_GT(h_->outputs().size(), 1000u) << "the scan would be vacuous";
  found = FindForms(ReadFileOrEmpty(h_->dir() + "/gateway.log"), forms);
  EXPECT_TRUE(found.empty()) << "the gateway log holds " << found[0];
  Ran tree = Sh("cat work/README work/pushed.txt; git -C work log -p -1");
  found = FindForms(tree.output, forms);
  EXPECT_TRUE(found.empty());
  size_t bytes = 0;
  auto in_memory = ScanProcessMemory(h_->gateway().pid(), forms, &bytes);
  ASSERT_TRUE(in_memory.ok()) << in_memory.status();
  EXPECT_GT(bytes, 1u << 20) << "memory scan read too little";
  EXPECT_TRUE(in_memory->empty())
      << "the gateway process holds " << (*in_memory)[0];
}

}  // namespace
}  // namespace latchkey::testing
