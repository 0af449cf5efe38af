// latchkeyctl end to end: the real binary against the real stack, for every
// subcommand: its output (tables by default, JSON that parses with --json)
// and its exit codes (0 ok, 1 refused, 2 usage, 3 unreachable).
#include <fstream>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/broker_call.h"
#include "tests/run_command.h"
#include "tests/stack.h"

namespace latchkey::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class CtlE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    StackOptions options;
    options.start_mcp = false;
    auto stack = Stack::Start(options);
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
    // One allowed and one denied request, so that the audit log, the
    // broker's and the vault's metrics have something to show.
    auto allowed =
        OpenSessionAndGet(stack_->run("broker.sock"), stack_->agent_token(),
                          "demo-api", "/v1/hello");
    ASSERT_TRUE(allowed.ok()) << allowed.status();
    ASSERT_EQ(allowed->decision(), v1::DECISION_ALLOW)
        << allowed->DebugString();
    auto denied =
        OpenSessionAndGet(stack_->run("broker.sock"), stack_->agent_token(),
                          "demo-api", "/v1/admin/x");
    ASSERT_TRUE(denied.ok()) << denied.status();
    ASSERT_EQ(denied->decision(), v1::DECISION_DENY);
  }
  static void TearDownTestSuite() { delete stack_; }

  // Ctl runs latchkeyctl --run_dir=<the stack's> ARGS.
  static CommandResult Ctl(std::vector<std::string> args,
                           const std::string& input = "") {
    args.insert(args.begin(),
                {"ctl/latchkeyctl", "--run_dir=" + stack_->dir() + "/run"});
    CommandResult result = RunCommand(args, input);
    EXPECT_FALSE(result.timed_out) << args[2];
    return result;
  }

  // Json runs Ctl with --json, expects exit 0 and returns the parsed output.
  static nlohmann::json Json(std::vector<std::string> args) {
    args.push_back("--json");
    CommandResult result = Ctl(args);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    nlohmann::json parsed =
        nlohmann::json::parse(result.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(parsed.is_discarded()) << "not JSON: " << result.out;
    return parsed;
  }

  static std::string WriteFile(const std::string& name,
                               const std::string& text) {
    std::string path = stack_->dir() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  static Stack* stack_;
};

Stack* CtlE2eTest::stack_ = nullptr;

TEST_F(CtlE2eTest, HelpAndUsageErrors) {
  CommandResult help = Ctl({"help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* command :
       {"status", "metrics", "vault init", "vault unseal", "secret put",
        "agent create", "capability list", "session revoke", "revoke all",
        "explain", "apply", "audit query", "audit tail", "audit verify",
        "audit checkpoint"}) {
    EXPECT_THAT(help.out, HasSubstr(command));
  }
  CommandResult one = Ctl({"secret", "put", "--help"});
  EXPECT_EQ(one.exit_code, 0);
  EXPECT_THAT(one.out, HasSubstr("latchkeyctl secret put ID"));
  EXPECT_THAT(one.out, Not(HasSubstr("audit tail")));

  EXPECT_EQ(Ctl({}).exit_code, 2);
  CommandResult unknown = Ctl({"frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("latchkeyctl help"));
  EXPECT_EQ(Ctl({"secret", "delete"}).exit_code, 2);  // Missing ID.
  EXPECT_EQ(Ctl({"metrics", "nonsense"}).exit_code, 2);
  EXPECT_EQ(Ctl({"audit", "query", "--decision=maybe"}).exit_code, 2);
  EXPECT_EQ(Ctl({"audit", "query", "--since=yesterday"}).exit_code, 2);
  EXPECT_EQ(Ctl({"agent", "create", "x", "--uids=root"}).exit_code, 2);
  EXPECT_EQ(Ctl({"vault", "init", "--unseal_method=magic"}).exit_code, 2);
  EXPECT_EQ(Ctl({"apply", "/nonexistent/file"}).exit_code, 2);
  CommandResult flag = Ctl({"status", "--no_such_flag"});
  EXPECT_EQ(flag.exit_code, 2);
  EXPECT_THAT(flag.err, HasSubstr("--no_such_flag"));
  EXPECT_EQ(Ctl({"audit", "query", "--limit=many"}).exit_code, 2);
}

TEST_F(CtlE2eTest, StatusShowsEveryDaemon) {
  CommandResult status = Ctl({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  for (const char* text :
       {"DAEMON", "latchkey-vault", "unsealed", "latchkey-broker",
        "latchkey-broker (admin)", "1 capabilities", "latchkey-audit",
        "head record", "latchkey-mcp", "SERVING"}) {
    EXPECT_THAT(status.out, HasSubstr(text));
  }
  nlohmann::json json = Json({"status"});
  ASSERT_TRUE(json.is_array());
  ASSERT_EQ(json.size(), 5u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(json[i]["health"], "SERVING") << json[i].dump();
  }
}

TEST_F(CtlE2eTest, UnreachableDaemonsExitThreeWithAHint) {
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{"status"},
                                             {"secret", "list"},
                                             {"capability", "list"},
                                             {"audit", "query"},
                                             {"metrics", "vault"}}) {
    args.insert(args.begin(), {"ctl/latchkeyctl", "--run_dir=/nonexistent-lk"});
    CommandResult result = RunCommand(args);
    EXPECT_EQ(result.exit_code, 3) << args[2] << ": " << result.err;
    EXPECT_THAT(result.out + result.err, HasSubstr("/nonexistent-lk/"))
        << args[2];
  }
}

TEST_F(CtlE2eTest, VaultCommands) {
  CommandResult status = Ctl({"vault", "status"});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_THAT(status.out, HasSubstr("initialized:"));
  EXPECT_EQ(Json({"vault", "status"})["sealed"], false);

  // Init on an initialized vault is refused.
  EXPECT_EQ(Ctl({"vault", "init"}).exit_code, 1);

  // Seal: status says so and exits 1; unseal with the key from stdin.
  EXPECT_EQ(Ctl({"vault", "seal"}).exit_code, 0);
  CommandResult sealed = Ctl({"status"});
  EXPECT_EQ(sealed.exit_code, 1);
  EXPECT_THAT(sealed.out, HasSubstr("latchkeyctl vault unseal"));
  CommandResult wrong = Ctl({"vault", "unseal"}, "not-a-share\n");
  EXPECT_NE(wrong.exit_code, 0);
  CommandResult unseal = Ctl({"vault", "unseal"}, stack_->unseal_key() + "\n");
  EXPECT_EQ(unseal.exit_code, 0) << unseal.err;
  EXPECT_EQ(Json({"vault", "status"})["sealed"], false);

  EXPECT_EQ(Ctl({"vault", "rotate"}).exit_code, 0);
}

TEST_F(CtlE2eTest, SecretCommandsNeverPrintTheValue) {
  const std::string value = "lk_ctl_e2e_value_91c3f0";
  CommandResult put =
      Ctl({"secret", "put", "ctl-e2e", "--origin=https://example.com",
           "--description=from the ctl test"},
          value + "\n");
  EXPECT_EQ(put.exit_code, 0) << put.err;
  EXPECT_THAT(put.out, HasSubstr("ctl-e2e"));
  CommandResult list = Ctl({"secret", "list"});
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_THAT(list.out, HasSubstr("ctl-e2e"));
  EXPECT_THAT(list.out, HasSubstr("demo-token"));
  nlohmann::json json = Json({"secret", "list"});
  EXPECT_NE(json.dump().find("ctl-e2e"), std::string::npos);
  for (const std::string& out : {put.out, put.err, list.out, json.dump()}) {
    EXPECT_THAT(out, Not(HasSubstr(value)));
  }
  EXPECT_EQ(Ctl({"secret", "delete", "ctl-e2e"}).exit_code, 0);
  CommandResult again = Ctl({"secret", "delete", "ctl-e2e"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_FALSE(again.err.empty());
}

TEST_F(CtlE2eTest, CapabilityCommands) {
  CommandResult list = Ctl({"capability", "list"});
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_THAT(list.out, HasSubstr("demo-api"));
  EXPECT_FALSE(Json({"capability", "list"}).is_discarded());

  const std::string origin = stack_->upstream_origin();
  std::string file = WriteFile(
      "cap.textproto",
      "name: \"ctl-cap\" secret_id: \"demo-token\" origin: \"" + origin +
          "\" rules { effect: ALLOW methods: \"GET\" path: \"/v1/**\" }");
  CommandResult create = Ctl({"capability", "create", file});
  EXPECT_EQ(create.exit_code, 0) << create.err;
  EXPECT_EQ(Ctl({"capability", "create", file}).exit_code, 1);  // Exists.
  std::string update = WriteFile(
      "cap2.textproto",
      "name: \"ctl-cap\" secret_id: \"demo-token\" origin: \"" + origin +
          "\" rules { effect: ALLOW methods: \"POST\" path: \"/v1/**\" }");
  EXPECT_EQ(Ctl({"capability", "update", update}).exit_code, 0);
  std::string bad = WriteFile("bad.textproto", "name: {");
  EXPECT_EQ(Ctl({"capability", "create", bad}).exit_code, 2);

  EXPECT_EQ(Ctl({"capability", "revoke", "ctl-cap"}).exit_code, 0);
  CommandResult revocations = Ctl({"revocation", "list"});
  EXPECT_EQ(revocations.exit_code, 0);
  EXPECT_THAT(revocations.out, HasSubstr("ctl-cap"));
  EXPECT_EQ(Ctl({"revocation", "lift", "capability", "ctl-cap"}).exit_code, 0);
  EXPECT_EQ(Ctl({"revocation", "lift", "sideways"}).exit_code, 2);
  EXPECT_EQ(Ctl({"capability", "delete", "ctl-cap"}).exit_code, 0);
  // Deleting is idempotent in the broker; the capability is gone.
  EXPECT_EQ(Ctl({"capability", "delete", "ctl-cap"}).exit_code, 0);
  EXPECT_THAT(Ctl({"capability", "list"}).out, Not(HasSubstr("ctl-cap")));
}

TEST_F(CtlE2eTest, AgentAndSessionCommands) {
  CommandResult create =
      Ctl({"agent", "create", "ctl-agent", "--capabilities=demo-api"});
  ASSERT_EQ(create.exit_code, 0) << create.err;
  EXPECT_THAT(create.out, HasSubstr("shown once"));
  std::vector<std::string> lines = absl::StrSplit(create.out, '\n');
  std::string token;
  for (const std::string& line : lines) {
    if (absl::StartsWith(line, "lk_agent_")) token = line;
  }
  ASSERT_FALSE(token.empty()) << create.out;

  // The new agent works; its session is listed; the token is never shown
  // again.
  auto call = OpenSessionAndGet(stack_->run("broker.sock"), token, "demo-api",
                                "/v1/agent");
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_EQ(call->decision(), v1::DECISION_ALLOW);
  CommandResult agents = Ctl({"agent", "list"});
  EXPECT_EQ(agents.exit_code, 0);
  EXPECT_THAT(agents.out, HasSubstr("ctl-agent"));
  EXPECT_THAT(agents.out, Not(HasSubstr(token)));
  EXPECT_THAT(Json({"agent", "list"}).dump(), Not(HasSubstr(token)));

  CommandResult sessions = Ctl({"session", "list", "--agent=ctl-agent"});
  EXPECT_EQ(sessions.exit_code, 0);
  nlohmann::json listed = Json({"session", "list", "--agent=ctl-agent"});
  ASSERT_FALSE(listed["sessions"].empty()) << listed.dump();
  const std::string session = listed["sessions"][0]["id"];
  EXPECT_THAT(sessions.out, HasSubstr(session));
  EXPECT_EQ(Ctl({"session", "revoke", session}).exit_code, 0);
  // Revoking an unknown session is idempotent (nothing to revoke).
  EXPECT_EQ(Ctl({"session", "revoke", "no-such-session"}).exit_code, 0);

  EXPECT_EQ(Ctl({"agent", "revoke", "ctl-agent"}).exit_code, 0);
  auto refused = OpenSessionAndGet(stack_->run("broker.sock"), token,
                                   "demo-api", "/v1/agent");
  EXPECT_FALSE(refused.ok() && refused->decision() == v1::DECISION_ALLOW);
  EXPECT_EQ(Ctl({"revocation", "lift", "agent", "ctl-agent"}).exit_code, 0);
  EXPECT_EQ(Ctl({"agent", "delete", "ctl-agent"}).exit_code, 0);
  EXPECT_THAT(Ctl({"agent", "list"}).out, Not(HasSubstr("ctl-agent")));

  EXPECT_EQ(Ctl({"revoke", "all"}).exit_code, 0);
  EXPECT_EQ(Ctl({"revocation", "lift", "all"}).exit_code, 0);
}

TEST_F(CtlE2eTest, ExplainApplyAndConfigExport) {
  CommandResult explain =
      Ctl({"explain", "--agent=demo-agent", "--capability=demo-api",
           "--method=DELETE", "--path=/v1/x"});
  EXPECT_EQ(explain.exit_code, 0) << explain.err;
  EXPECT_THAT(explain.out, HasSubstr("DECISION_DENY"));
  nlohmann::json allowed =
      Json({"explain", "--agent=demo-agent", "--capability=demo-api",
            "--method=GET", "--path=/v1/x"});
  EXPECT_EQ(allowed["decision"], "DECISION_ALLOW") << allowed.dump();

  CommandResult exported = Ctl({"config", "export"});
  ASSERT_EQ(exported.exit_code, 0);
  EXPECT_THAT(exported.out, HasSubstr("demo-api"));
  // Dry run of the same config plus one agent: reports, changes nothing.
  std::string file = WriteFile(
      "apply.textproto", exported.out +
                             "\nagents { name: \"dry-agent\" token_sha256: \"" +
                             std::string(64, 'a') + "\" }\n");
  CommandResult dry = Ctl({"apply", "--dry_run", file});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_THAT(dry.out, HasSubstr("dry-agent"));
  EXPECT_THAT(Ctl({"agent", "list"}).out, Not(HasSubstr("dry-agent")));
  std::string bad = WriteFile("apply-bad.textproto", "capabilities { name: ");
  EXPECT_EQ(Ctl({"apply", "--dry_run", bad}).exit_code, 1);
}

TEST_F(CtlE2eTest, AuditCommands) {
  CommandResult query = Ctl({"audit", "query"});
  EXPECT_EQ(query.exit_code, 0) << query.err;
  EXPECT_THAT(query.out, HasSubstr("SEQ"));
  EXPECT_THAT(query.out, HasSubstr("demo-api"));
  EXPECT_THAT(query.out, HasSubstr("REASON_ALLOWED"));
  nlohmann::json denied = Json({"audit", "query", "--decision=deny",
                                "--capability=demo-api", "--since=1h"});
  ASSERT_FALSE(denied["records"].empty()) << denied.dump();
  for (const auto& record : denied["records"]) {
    EXPECT_EQ(record["event"]["decision"], "DECISION_DENY");
  }

  // Tail from the first record, bounded by --count: JSON Lines.
  CommandResult tail =
      Ctl({"audit", "tail", "--from_sequence=1", "--count=2", "--json"});
  EXPECT_EQ(tail.exit_code, 0) << tail.err;
  std::vector<std::string> lines =
      absl::StrSplit(tail.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << tail.out;
  EXPECT_EQ(nlohmann::json::parse(lines[0])["sequence"], "1");
  CommandResult table =
      Ctl({"audit", "tail", "--from_sequence=1", "--count=1"});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_THAT(table.out, HasSubstr("SEQ"));

  CommandResult verify = Ctl({"audit", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_EQ(Json({"audit", "verify"})["ok"], true);

  // audit checkpoint prints SEQ:HEAD, which verify --expect takes back.
  CommandResult checkpoint = Ctl({"audit", "checkpoint"});
  ASSERT_EQ(checkpoint.exit_code, 0) << checkpoint.err;
  ASSERT_TRUE(absl::EndsWith(checkpoint.out, "\n")) << checkpoint.out;
  const std::string head = checkpoint.out.substr(0, checkpoint.out.size() - 1);
  const size_t colon = head.find(':');
  ASSERT_NE(colon, std::string::npos) << head;
  EXPECT_EQ(head.size() - colon - 1, 64u) << head;
  const std::string sequence = head.substr(0, colon);
  nlohmann::json as_json = Json({"audit", "checkpoint"});
  EXPECT_EQ(as_json["sequence"], sequence) << as_json.dump();
  EXPECT_EQ(as_json["headHash"], head.substr(colon + 1)) << as_json.dump();
  CommandResult expected = Ctl({"audit", "verify", "--expect=" + head});
  EXPECT_EQ(expected.exit_code, 0) << expected.out << expected.err;
  EXPECT_THAT(expected.out, HasSubstr("expectations_checked: 1"));
  // --expect may be repeated; the last one does not hide the others.
  CommandResult repeated = Ctl(
      {"audit", "verify", "--expect=" + sequence + ":" + std::string(64, '0'),
       "--expect=" + head});
  EXPECT_EQ(repeated.exit_code, 1) << repeated.out << repeated.err;
  CommandResult rewritten = Ctl(
      {"audit", "verify", "--expect=" + sequence + ":" + std::string(64, '0')});
  EXPECT_EQ(rewritten.exit_code, 1) << rewritten.out << rewritten.err;
  EXPECT_THAT(rewritten.err, HasSubstr("(edited: record " + sequence));
  CommandResult lost =
      Ctl({"audit", "verify", "--expect=1000000:" + head.substr(colon + 1)});
  EXPECT_EQ(lost.exit_code, 1) << lost.out << lost.err;
  EXPECT_THAT(lost.err, HasSubstr("truncated: the log ends at record"));
  EXPECT_EQ(Ctl({"audit", "verify", "--expect=12"}).exit_code, 2);
}

TEST_F(CtlE2eTest, MetricsCommands) {
  CommandResult all = Ctl({"metrics"});
  EXPECT_EQ(all.exit_code, 0) << all.err;
  for (const char* text :
       {"== vault", "== broker", "== audit", "latchkey_broker_requests_total",
        "decision=allow", "reason=REASON_RULE_DENY",
        "latchkey_vault_upstream_responses_total", "class=2xx",
        "latchkey_vault_sealed", "latchkey_audit_appends_total",
        "latchkey_audit_fsync_duration_seconds"}) {
    EXPECT_THAT(all.out, HasSubstr(text));
  }
  nlohmann::json broker = Json({"metrics", "broker"});
  ASSERT_TRUE(broker.contains("broker")) << broker.dump();
  EXPECT_EQ(broker["broker"]["daemon"], "broker");
  CommandResult text = Ctl({"metrics", "audit", "--prometheus"});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_THAT(text.out, HasSubstr("# TYPE latchkey_audit_fsync_duration_"
                                  "seconds histogram"));
  EXPECT_THAT(text.out, HasSubstr("le=\"+Inf\""));
}

}  // namespace
}  // namespace latchkey::testing
