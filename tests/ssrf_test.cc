// SSRF corpus through the real stack: every attempt to make the vault
// connect somewhere other than a secret's bound, public origin is refused
// with a clear reason and audited, and none reaches the loopback canary
// listening on the port each attempt names.
//
// Safety: every address named here is a loopback one (127.0.0.0/8, ::1,
// 0.0.0.0, which Linux delivers to loopback). Cases that name non-loopback
// addresses (169.254.169.254, private ranges) are in ssrf_netns_test, which
// runs the vault in a network namespace of its own.
//
// "A DNS name that resolves to 127.0.0.1": the vault runs in a private mount
// namespace (unshare -m) where a test hosts file is bind-mounted over
// /etc/hosts; the machine's /etc/hosts is never touched. Without root those
// rows are skipped (and say so).
#include <unistd.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/uds_server.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "proto/broker.grpc.pb.h"
#include "proto/vault.grpc.pb.h"
#include "tests/loopback_canary.h"
#include "tests/stack.h"

namespace latchkey::testing {
namespace {

using nlohmann::json;

enum class Kind {
  kOrigin,    // the secret and capability are bound to this origin
  kAgent,     // the agent's own request tries to steer the vault
  kRedirect,  // the (bound, internal) upstream redirects elsewhere
};

struct Attack {
  std::string name;
  Kind kind;
  // kOrigin: origin with "@P" standing for the canary's port.
  // kAgent: the request path. kRedirect: the Location, "@P" as above,
  // "@U" for the upstream's port.
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // kAgent
  std::vector<v1::ReasonCode> want;                          // any of these
  bool needs_hosts_file = false;
};

std::string Expand(std::string text, int canary, int upstream) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '@' && i + 1 < text.size() &&
        (text[i + 1] == 'P' || text[i + 1] == 'U')) {
      out += std::to_string(text[i + 1] == 'P' ? canary : upstream);
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::vector<Attack> Corpus() {
  const std::vector<v1::ReasonCode> kAddress = {v1::REASON_ADDRESS_REFUSED};
  const std::vector<v1::ReasonCode> kRedirect = {v1::REASON_REDIRECT_REFUSED};
  const std::vector<v1::ReasonCode> kPath = {v1::REASON_PATH_REJECTED};
  const std::vector<v1::ReasonCode> kHeader = {v1::REASON_INVALID_REQUEST};
  std::vector<Attack> c;
  auto origin = [&](std::string name, std::string target, bool hosts = false) {
    c.push_back({std::move(name),
                 Kind::kOrigin,
                 std::move(target),
                 {},
                 kAddress,
                 hosts});
  };
  // 1. Loopback in every spelling getaddrinfo understands.
  origin("dotted", "http://127.0.0.1:@P");
  origin("decimal", "http://2130706433:@P");
  origin("hex", "http://0x7f000001:@P");
  origin("hex_upper", "http://0X7F000001:@P");
  origin("octal_dotted", "http://0177.0.0.1:@P");
  origin("octal_flat", "http://017700000001:@P");
  origin("short_two_parts", "http://127.1:@P");
  origin("short_three_parts", "http://127.0.1:@P");
  origin("hex_dotted", "http://0x7f.0x0.0x0.0x1:@P");
  origin("hex_short", "http://0x7f.1:@P");
  origin("octal_short", "http://0177.1:@P");
  origin("mixed_radix", "http://0x7f.0.0.01:@P");
  origin("loopback_other", "http://127.0.0.2:@P");
  origin("loopback_top", "http://127.255.255.254:@P");
  origin("https_loopback", "https://127.0.0.1:@P");
  origin("unspecified", "http://0.0.0.0:@P");
  origin("unspecified_zero", "http://0:@P");
  origin("unspecified_hex", "http://0x0:@P");
  origin("localhost", "http://localhost:@P");
  origin("localhost_dot", "http://localhost.:@P");
  origin("localhost_upper", "http://LOCALHOST:@P");
  origin("ipv6_loopback", "http://[::1]:@P");
  origin("ipv6_loopback_long", "http://[0:0:0:0:0:0:0:1]:@P");
  origin("ipv4_mapped", "http://[::ffff:127.0.0.1]:@P");
  origin("ipv4_mapped_hex", "http://[::ffff:7f00:1]:@P");
  origin("ipv4_compatible", "http://[::127.0.0.1]:@P");
  origin("ipv4_translated", "http://[::ffff:0:127.0.0.1]:@P");
  origin("nat64_loopback", "http://[64:ff9b::127.0.0.1]:@P");
  origin("6to4_loopback", "http://[2002:7f00:1::1]:@P");
  origin("ipv6_unspecified", "http://[::]:@P");
  origin("ipv6_mapped_unspecified", "http://[::ffff:0.0.0.0]:@P");
  origin("ip6_localhost_name", "http://ip6-localhost:@P");
  // 2. Names that resolve to loopback (test hosts file, see above).
  origin("dns_name_to_127", "http://canary.lk-test:@P", true);
  origin("dns_name_to_127_dot", "http://canary.lk-test.:@P", true);
  origin("dns_name_to_127_2", "http://second.lk-test:@P", true);
  origin("dns_name_to_v6_loopback", "http://canary6.lk-test:@P", true);
  origin("dns_name_to_mapped", "http://mapped.lk-test:@P", true);
  origin("dns_name_to_zero", "http://zero.lk-test:@P", true);
  // 3. The agent's request tries to change scheme, host, port or userinfo,
  // or to smuggle headers.
  auto agent =
      [&](std::string name, std::string path, std::vector<v1::ReasonCode> want,
          std::vector<std::pair<std::string, std::string>> headers = {}) {
        c.push_back({std::move(name), Kind::kAgent, std::move(path),
                     std::move(headers), std::move(want)});
      };
  agent("absolute_url_path", "http://127.0.0.1:@P/v1/x", kPath);
  agent("userinfo_path", "https://api.example.com@127.0.0.1:@P/v1/x", kPath);
  agent("at_host_path", "@127.0.0.1:@P/v1/x", kPath);
  agent("protocol_relative", "//127.0.0.1:@P/v1/x",
        {v1::REASON_PATH_REJECTED, v1::REASON_NO_RULE_MATCHED});
  agent("backslash_host", "\\\\127.0.0.1:@P\\v1\\x", kPath);
  agent("path_query_smuggle", "/v1/x?host=127.0.0.1", kPath);
  agent("path_fragment", "/v1/x#@127.0.0.1:@P", kPath);
  agent("raw_crlf_host", "/v1/x\r\nHost: 127.0.0.1:@P", kPath);
  agent("encoded_crlf_host", "/v1/x%0d%0aHost:%20127.0.0.1:@P", kPath);
  agent("encoded_lf", "/v1/x%0aHost:127.0.0.1", kPath);
  agent("encoded_nul", "/v1/x%00", kPath);
  agent("dotdot_escape", "/v1/../../127.0.0.1/x",
        {v1::REASON_PATH_REJECTED, v1::REASON_NO_RULE_MATCHED});
  agent("encoded_slash", "/v1/%2f%2f127.0.0.1:@P", kPath);
  agent("host_header", "/v1/x", kHeader, {{"Host", "127.0.0.1:@P"}});
  agent("host_header_lower", "/v1/x", kHeader, {{"host", "127.0.0.1:@P"}});
  agent("authorization_header", "/v1/x", kHeader,
        {{"Authorization", "Bearer attacker"}});
  agent("proxy_authorization", "/v1/x", kHeader,
        {{"Proxy-Authorization", "Basic eDp5"}});
  agent("cookie_header", "/v1/x", kHeader, {{"Cookie", "a=b"}});
  agent("header_value_crlf", "/v1/x", kHeader,
        {{"X-Note", "a\r\nHost: 127.0.0.1:@P"}});
  agent("header_value_lf", "/v1/x", kHeader, {{"X-Note", "a\nHost: x"}});
  agent("header_value_nul", "/v1/x", kHeader,
        {{"X-Note", std::string("a\0b", 3)}});
  agent("header_name_crlf", "/v1/x", kHeader, {{"X-A\r\nHost", "x"}});
  agent("header_name_space", "/v1/x", kHeader, {{"Host ", "127.0.0.1"}});
  agent("connection_header", "/v1/x", kHeader, {{"Connection", "close"}});
  agent("transfer_encoding", "/v1/x", kHeader,
        {{"Transfer-Encoding", "chunked"}});
  agent("header_too_long", "/v1/x", kHeader,
        {{"X-Big", std::string(9000, 'a')}});
  // 4. The upstream (bound and internal) redirects the vault elsewhere.
  auto redirect = [&](std::string name, std::string location,
                      std::vector<v1::ReasonCode> want = {}) {
    c.push_back({std::move(name),
                 Kind::kRedirect,
                 std::move(location),
                 {},
                 want.empty() ? kRedirect : std::move(want)});
  };
  redirect("redirect_other_port", "http://127.0.0.1:@P/");
  redirect("redirect_other_loopback", "http://127.0.0.2:@U/");
  redirect("redirect_localhost_name", "http://localhost:@U/v1/x");
  redirect("redirect_https_upgrade", "https://127.0.0.1:@U/v1/x");
  redirect("redirect_ipv6", "http://[::1]:@P/");
  redirect("redirect_mapped", "http://[::ffff:127.0.0.1]:@P/");
  redirect("redirect_decimal", "http://2130706433:@P/");
  redirect("redirect_userinfo_trick", "http://127.0.0.1:@U@127.0.0.1:@P/");
  redirect("redirect_userinfo_same", "http://user:pw@127.0.0.1:@U/v1/x");
  redirect("redirect_protocol_relative", "//127.0.0.1:@P/x");
  redirect("redirect_backslashes", "http:\\\\127.0.0.1:@P\\x");
  redirect("redirect_encoded_slash", "/v1/%2f..%2fadmin");
  redirect("redirect_loop", "");  // redirects to itself until the limit
  return c;
}

class SsrfTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto canary = LoopbackCanary::Start();
    ASSERT_TRUE(canary.ok()) << canary.status();
    canary_ = canary->release();
    StackOptions options;
    options.start_mcp = false;
    // Root: run the vault with a test hosts file in a private mount
    // namespace, so names can resolve to loopback without touching the
    // machine's /etc/hosts.
    if (geteuid() == 0 && access("/usr/bin/unshare", X_OK) == 0) {
      char templ[] = "/tmp/lk-hosts-XXXXXX";
      ASSERT_NE(mkdtemp(templ), nullptr);
      hosts_dir_ = templ;
      std::ofstream(hosts_dir_ + "/hosts")
          << "127.0.0.1 localhost\n::1 localhost ip6-localhost\n"
             "127.0.0.1 canary.lk-test\n127.0.0.2 second.lk-test\n"
             "::1 canary6.lk-test\n::ffff:127.0.0.1 mapped.lk-test\n"
             "0.0.0.0 zero.lk-test\n";
      options.vault_command_prefix = {
          "/usr/bin/unshare",
          "-m",
          "--",
          "/bin/sh",
          "-c",
          "mount --bind " + hosts_dir_ + "/hosts /etc/hosts && exec \"$@\"",
          "sh"};
      hosts_file_ = true;
    }
    auto stack = Stack::Start(options);
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
  }
  static void TearDownTestSuite() {
    delete stack_;
    delete canary_;
    if (!hosts_dir_.empty()) {
      (void)!std::system(("rm -rf '" + hosts_dir_ + "'").c_str());
    }
  }

  static int UpstreamPort() {
    const std::string& origin = stack_->upstream_origin();
    return std::stoi(origin.substr(origin.rfind(':') + 1));
  }

  static grpc::Status PutSecret(const std::string& id,
                                const std::string& origin) {
    auto admin =
        v1::VaultAdmin::NewStub(CreateUdsChannel(stack_->run("vault.sock")));
    grpc::ClientContext context;
    v1::PutSecretRequest put;
    put.set_id(id);
    put.set_value(Stack::kSecret);
    put.add_origins(origin);  // NOT internal
    v1::SecretMetadata metadata;
    return admin->PutSecret(&context, put, &metadata);
  }

  static grpc::Status CreateCapability(const std::string& name,
                                       const std::string& secret,
                                       const std::string& origin,
                                       uint32_t max_redirects) {
    auto admin =
        v1::BrokerAdmin::NewStub(CreateUdsChannel(stack_->run("admin.sock")));
    grpc::ClientContext context;
    v1::CreateCapabilityRequest request;
    v1::Capability& cap = *request.mutable_capability();
    cap.set_name(name);
    cap.set_description("ssrf corpus");
    cap.set_secret_id(secret);
    cap.set_origin(origin);
    v1::Rule& rule = *cap.add_rules();
    rule.set_effect(v1::Rule::ALLOW);
    rule.add_methods("GET");
    rule.set_path("/**");
    cap.add_agents("demo-agent");
    cap.mutable_limits()->set_total_timeout_ms(5000);
    cap.mutable_limits()->set_connect_timeout_ms(2000);
    cap.mutable_limits()->set_max_redirects(max_redirects);
    v1::Capability created;
    return admin->CreateCapability(&context, request, &created);
  }

  static std::unique_ptr<v1::Broker::Stub> Broker() {
    return v1::Broker::NewStub(CreateUdsChannel(stack_->run("broker.sock")));
  }

  static void Authorize(grpc::ClientContext* context) {
    context->AddMetadata("authorization", "Bearer " + stack_->agent_token());
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(20));
  }

  static std::string OpenSession() {
    grpc::ClientContext context;
    Authorize(&context);
    v1::Session session;
    grpc::Status rpc =
        Broker()->OpenSession(&context, v1::OpenSessionRequest(), &session);
    EXPECT_TRUE(rpc.ok()) << rpc.error_message();
    return session.id();
  }

  static v1::ExecuteResponse Execute(const std::string& session,
                                     const std::string& capability,
                                     const v1::HttpRequest& http) {
    grpc::ClientContext context;
    Authorize(&context);
    v1::ExecuteRequest request;
    request.set_session_id(session);
    request.set_capability(capability);
    *request.mutable_request() = http;
    v1::ExecuteResponse response;
    grpc::Status rpc = Broker()->Execute(&context, request, &response);
    EXPECT_TRUE(rpc.ok()) << rpc.error_message();
    return response;
  }

  static std::map<std::string, json> AuditByRequestId() {
    std::map<std::string, json> records;
    for (absl::string_view line :
         absl::StrSplit(ReadFileOrEmpty(stack_->audit_log_path()), '\n',
                        absl::SkipEmpty())) {
      json record = json::parse(line, nullptr, false);
      if (!record.is_discarded() && record.contains("request_id")) {
        records[record["request_id"].get<std::string>()] = record;
      }
    }
    return records;
  }

  static size_t UpstreamRequestCount() {
    std::string text = ReadFileOrEmpty(stack_->upstream_record_path());
    return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  }

  static Stack* stack_;
  static LoopbackCanary* canary_;
  static std::string hosts_dir_;
  static bool hosts_file_;
};

Stack* SsrfTest::stack_ = nullptr;
LoopbackCanary* SsrfTest::canary_ = nullptr;
std::string SsrfTest::hosts_dir_;
bool SsrfTest::hosts_file_ = false;

TEST_F(SsrfTest, CorpusIsRefusedAuditedAndNeverReachesTheCanary) {
  const std::vector<Attack> corpus = Corpus();
  ASSERT_GE(corpus.size(), 60u);
  const int canary = canary_->port();
  const int upstream = UpstreamPort();

  // Set up one secret and capability per origin case, and one redirecting
  // capability on the (internal) test upstream.
  for (size_t i = 0; i < corpus.size(); ++i) {
    const Attack& a = corpus[i];
    if (a.kind != Kind::kOrigin) continue;
    std::string id = absl::StrCat("ssrf-", i);
    std::string origin = Expand(a.target, canary, upstream);
    grpc::Status put = PutSecret(id, origin);
    ASSERT_TRUE(put.ok()) << a.name << ": " << put.error_message();
    grpc::Status cap = CreateCapability(id, id, origin, 0);
    ASSERT_TRUE(cap.ok()) << a.name << ": " << cap.error_message();
  }
  ASSERT_TRUE(CreateCapability("redirecting", "demo-token",
                               stack_->upstream_origin(), 3)
                  .ok());
  const std::string session = OpenSession();

  int ran = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    const Attack& a = corpus[i];
    SCOPED_TRACE(a.name);
    if (a.needs_hosts_file && !hosts_file_) {
      std::cerr << "skipped " << a.name
                << ": needs root for a private mount namespace\n";
      continue;
    }
    ++ran;
    v1::HttpRequest http;
    http.set_method("GET");
    std::string capability = "demo-api";
    if (a.kind == Kind::kOrigin) {
      capability = absl::StrCat("ssrf-", i);
      http.set_path("/v1/x");
    } else if (a.kind == Kind::kAgent) {
      http.set_path(Expand(a.target, canary, upstream));
      for (const auto& [name, value] : a.headers) {
        v1::Header* header = http.add_headers();
        header->set_name(name);
        header->set_value(Expand(value, canary, upstream));
      }
    } else {
      capability = "redirecting";
      http.set_path("/v1/redirect");
      if (!a.target.empty()) {
        v1::QueryParam* to = http.add_query();
        to->set_name("to");
        to->set_value(Expand(a.target, canary, upstream));
      }
    }
    size_t upstream_before = UpstreamRequestCount();
    v1::ExecuteResponse response = Execute(session, capability, http);
    ASSERT_EQ(response.decision(), v1::DECISION_DENY)
        << response.ShortDebugString();
    const v1::Denial& denial = response.denial();
    EXPECT_NE(std::find(a.want.begin(), a.want.end(), denial.code()),
              a.want.end())
        << v1::ReasonCode_Name(denial.code()) << ": " << denial.message();
    std::cerr << a.name << ": " << v1::ReasonCode_Name(denial.code()) << ": "
              << denial.message() << "\n";
    EXPECT_FALSE(denial.message().empty());
    EXPECT_FALSE(denial.next_step().empty());
    EXPECT_FALSE(absl::StrContains(denial.message(), Stack::kSecret));
    if (a.kind == Kind::kOrigin) {
      EXPECT_TRUE(absl::StrContains(
          denial.message(),
          "which is refused unless the origin is marked internal"))
          << denial.message();
    }
    if (a.kind == Kind::kAgent) {
      // Refused before anything went upstream.
      EXPECT_EQ(UpstreamRequestCount(), upstream_before);
    }
    // Audited, with the same reason the agent got.
    std::map<std::string, json> audit = AuditByRequestId();
    auto record = audit.find(response.request_id());
    ASSERT_NE(record, audit.end()) << response.request_id();
    EXPECT_EQ(record->second["decision"], "deny");
    EXPECT_EQ(record->second["reason_code"],
              v1::ReasonCode_Name(denial.code()).substr(7));
    EXPECT_EQ(record->second["reason"], denial.message());
    EXPECT_EQ(canary_->connections(), 0) << "the canary was reached";
  }
  std::cerr << ran << " of " << corpus.size() << " corpus rows ran\n";
  // Give a stray connection time to land before the final check.
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(canary_->connections(), 0);
}

TEST_F(SsrfTest, RedirectsAreNotFollowedByDefault) {
  // demo-api has max_redirects 0: the agent gets the 302 itself and the
  // vault never connects to where it points.
  const std::string session = OpenSession();
  v1::HttpRequest http;
  http.set_method("GET");
  http.set_path("/v1/redirect");
  v1::QueryParam* to = http.add_query();
  to->set_name("to");
  to->set_value(absl::StrCat("http://127.0.0.1:", canary_->port(), "/"));
  v1::ExecuteResponse response = Execute(session, "demo-api", http);
  ASSERT_EQ(response.decision(), v1::DECISION_ALLOW)
      << response.ShortDebugString();
  EXPECT_EQ(response.response().status(), 302);
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(canary_->connections(), 0);
}

TEST_F(SsrfTest, SameOriginRedirectIsFollowedAndAudited) {
  ASSERT_TRUE(CreateCapability("follow-once", "demo-token",
                               stack_->upstream_origin(), 1)
                  .ok());
  const std::string session = OpenSession();
  v1::HttpRequest http;
  http.set_method("GET");
  http.set_path("/v1/redirect");
  v1::QueryParam* to = http.add_query();
  to->set_name("to");
  to->set_value("/v1/landed?x=1");
  size_t before = UpstreamRequestCount();
  v1::ExecuteResponse response = Execute(session, "follow-once", http);
  ASSERT_EQ(response.decision(), v1::DECISION_ALLOW)
      << response.ShortDebugString();
  EXPECT_EQ(response.response().status(), 200);
  EXPECT_TRUE(absl::StrContains(response.response().body(), "/v1/landed"));
  // The credential went with both hops (same origin) and nowhere else.
  std::string records = ReadFileOrEmpty(stack_->upstream_record_path());
  std::vector<std::string> lines =
      absl::StrSplit(records, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), before + 2);
  json landed = json::parse(lines.back());
  EXPECT_EQ(landed["path"], "/v1/landed");
  EXPECT_EQ(landed["headers"]["Authorization"],
            std::string("Bearer ") + Stack::kSecret);
  std::map<std::string, json> audit = AuditByRequestId();
  ASSERT_TRUE(audit.count(response.request_id()));
  EXPECT_TRUE(absl::StrContains(
      audit[response.request_id()]["reason"].get<std::string>(),
      "followed same-origin redirects to GET /v1/landed"));
}

TEST_F(SsrfTest, RedirectIntoADeniedPathIsWithheld) {
  // Same origin, but the capability's rules deny the target: the broker
  // re-applies them to every hop and withholds the answer.
  auto admin =
      v1::BrokerAdmin::NewStub(CreateUdsChannel(stack_->run("admin.sock")));
  grpc::ClientContext context;
  v1::CreateCapabilityRequest request;
  v1::Capability& cap = *request.mutable_capability();
  cap.set_name("follow-ruled");
  cap.set_description("redirects, but not into /v1/admin");
  cap.set_secret_id("demo-token");
  cap.set_origin(stack_->upstream_origin());
  v1::Rule& allow = *cap.add_rules();
  allow.set_effect(v1::Rule::ALLOW);
  allow.add_methods("GET");
  allow.set_path("/v1/**");
  v1::Rule& deny = *cap.add_rules();
  deny.set_effect(v1::Rule::DENY);
  deny.add_methods("*");
  deny.set_path("/v1/admin/**");
  cap.add_agents("demo-agent");
  cap.mutable_limits()->set_max_redirects(2);
  v1::Capability created;
  ASSERT_TRUE(admin->CreateCapability(&context, request, &created).ok());
  v1::HttpRequest http;
  http.set_method("GET");
  http.set_path("/v1/redirect");
  v1::QueryParam* to = http.add_query();
  to->set_name("to");
  to->set_value("/v1/admin/keys");
  v1::ExecuteResponse response = Execute(OpenSession(), "follow-ruled", http);
  ASSERT_EQ(response.decision(), v1::DECISION_DENY)
      << response.ShortDebugString();
  EXPECT_EQ(response.denial().code(), v1::REASON_REDIRECT_REFUSED);
  EXPECT_TRUE(absl::StrContains(response.denial().message(),
                                "GET /v1/admin/keys, which this capability's "
                                "rules do not allow"))
      << response.denial().message();
  EXPECT_FALSE(response.has_response());
}

TEST_F(SsrfTest, LoopbackOriginNotMarkedInternalIsRefused) {
  // The stack's own upstream origin, bound as an ordinary origin to a
  // second secret: the same address that works when marked internal is
  // refused when not.
  ASSERT_TRUE(PutSecret("plain-upstream", stack_->upstream_origin()).ok());
  ASSERT_TRUE(CreateCapability("plain-upstream", "plain-upstream",
                               stack_->upstream_origin(), 0)
                  .ok());
  const std::string session = OpenSession();
  v1::HttpRequest http;
  http.set_method("GET");
  http.set_path("/v1/x");
  size_t before = UpstreamRequestCount();
  v1::ExecuteResponse response = Execute(session, "plain-upstream", http);
  ASSERT_EQ(response.decision(), v1::DECISION_DENY);
  EXPECT_EQ(response.denial().code(), v1::REASON_ADDRESS_REFUSED);
  EXPECT_EQ(response.denial().message(),
            absl::StrCat("origin ", stack_->upstream_origin(),
                         " resolves to 127.0.0.1 (loopback), which is "
                         "refused unless the origin is marked internal"));
  EXPECT_EQ(UpstreamRequestCount(), before);
}

TEST_F(SsrfTest, ControlTheCanaryDoesCatchAConnection) {
  // The same kind of origin, marked internal: the vault connects, and a
  // canary of its own counts it. Without this, a canary that never counts
  // anything would make the corpus pass vacuously.
  auto control = LoopbackCanary::Start();
  ASSERT_TRUE(control.ok());
  std::string origin = absl::StrCat("http://2130706433:", (*control)->port());
  auto admin =
      v1::VaultAdmin::NewStub(CreateUdsChannel(stack_->run("vault.sock")));
  grpc::ClientContext context;
  v1::PutSecretRequest put;
  put.set_id("control");
  put.set_value(Stack::kSecret);
  put.add_internal_origins(origin);
  v1::SecretMetadata metadata;
  ASSERT_TRUE(admin->PutSecret(&context, put, &metadata).ok());
  ASSERT_TRUE(CreateCapability("control", "control", origin, 0).ok());
  v1::HttpRequest http;
  http.set_method("GET");
  http.set_path("/v1/x");
  v1::ExecuteResponse response = Execute(OpenSession(), "control", http);
  // The canary closes the connection at once: an upstream error, but it
  // was reached.
  EXPECT_EQ(response.denial().code(), v1::REASON_UPSTREAM_ERROR)
      << response.ShortDebugString();
  EXPECT_GE((*control)->connections(), 1);
}

}  // namespace
}  // namespace latchkey::testing
