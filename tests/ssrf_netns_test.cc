// SSRF cases that name non-loopback addresses (cloud metadata
// 169.254.169.254, private and CGNAT ranges), run where even a broken guard
// cannot send a packet off the machine: the test creates two network
// namespaces joined by a veth pair, "lk-ssrf-<pid>-v" for the vault and
// "lk-ssrf-<pid>-c" for canary hosts that own those addresses. The vault's
// namespace has a /32 route to each canary address and no default route, so
// nothing else is routable. Names resolve through a hosts file that
// `ip netns exec` bind-mounts from /etc/netns/<ns>/hosts for the vault only.
// Needs root and iproute2; skipped (with the reason) otherwise. The
// namespaces and /etc/netns/<ns> are always removed.
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/uds_server.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "proto/broker.grpc.pb.h"
#include "proto/vault.grpc.pb.h"
#include "tests/stack.h"

namespace latchkey::testing {
namespace {

using nlohmann::json;

constexpr char kIp[] = "/usr/sbin/ip";
// Canary addresses, all owned by the canary namespace.
const char* const kCanaryAddresses[] = {
    "169.254.169.254", "10.0.0.5", "192.168.1.5", "172.16.0.5", "100.64.0.5"};
// The vault namespace's own address (benchmarking range, not routed).
constexpr char kVaultAddress[] = "198.18.0.1";

bool RunShell(const std::string& command) {
  int rc = std::system(command.c_str());
  if (rc != 0) std::cerr << "failed (" << rc << "): " << command << "\n";
  return rc == 0;
}

// Namespaces owns the two namespaces and /etc/netns/<vault ns>; the
// destructor removes them whatever happened.
class Namespaces {
 public:
  Namespaces()
      : vault_(absl::StrCat("lk-ssrf-", getpid(), "-v")),
        canary_(absl::StrCat("lk-ssrf-", getpid(), "-c")) {}
  ~Namespaces() {
    RunShell(absl::StrCat(kIp, " netns del ", vault_, " 2>/dev/null || true"));
    RunShell(absl::StrCat(kIp, " netns del ", canary_, " 2>/dev/null || true"));
    RunShell("rm -rf '/etc/netns/" + vault_ + "'");
  }

  bool Create(const std::string& hosts) {
    std::string v = absl::StrCat("lkv", getpid() % 1000000);
    std::string c = absl::StrCat("lkc", getpid() % 1000000);
    std::string in_v = absl::StrCat(kIp, " -n ", vault_, " ");
    std::string in_c = absl::StrCat(kIp, " -n ", canary_, " ");
    if (!RunShell(absl::StrCat(kIp, " netns add ", vault_)) ||
        !RunShell(absl::StrCat(kIp, " netns add ", canary_)) ||
        !RunShell(
            absl::StrCat(kIp, " link add ", v, " type veth peer name ", c)) ||
        !RunShell(absl::StrCat(kIp, " link set ", v, " netns ", vault_)) ||
        !RunShell(absl::StrCat(kIp, " link set ", c, " netns ", canary_)) ||
        !RunShell(in_v + "link set lo up") ||
        !RunShell(in_c + "link set lo up") ||
        !RunShell(
            absl::StrCat(in_v, "addr add ", kVaultAddress, "/32 dev ", v)) ||
        !RunShell(absl::StrCat(in_v, "link set ", v, " up")) ||
        !RunShell(absl::StrCat(in_c, "link set ", c, " up")) ||
        !RunShell(
            absl::StrCat(in_c, "route add ", kVaultAddress, "/32 dev ", c))) {
      return false;
    }
    for (const char* address : kCanaryAddresses) {
      if (!RunShell(absl::StrCat(in_c, "addr add ", address, "/32 dev ", c)) ||
          !RunShell(absl::StrCat(in_v, "route add ", address, "/32 dev ", v,
                                 " src ", kVaultAddress))) {
        return false;
      }
    }
    if (!RunShell("mkdir -p '/etc/netns/" + vault_ + "'")) return false;
    std::ofstream("/etc/netns/" + vault_ + "/hosts") << hosts;
    return true;
  }

  const std::string& vault() const { return vault_; }
  const std::string& canary() const { return canary_; }

 private:
  std::string vault_;
  std::string canary_;
};

class SsrfNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to create namespaces";
    if (access(kIp, X_OK) != 0)
      GTEST_SKIP() << "needs iproute2 (" << kIp << ")";
    namespaces_ = std::make_unique<Namespaces>();
    ASSERT_TRUE(namespaces_->Create(
        "127.0.0.1 localhost\n"
        "169.254.169.254 metadata.google.internal metadata.lk-test\n"
        "10.0.0.5 internal.lk-test\n"
        "192.168.1.5 printer.lk-test\n"
        // DNS rebinding in one answer: a public record and a private one.
        "8.8.8.8 rebind.lk-test\n10.0.0.5 rebind.lk-test\n"));
    char templ[] = "/tmp/lk-netns-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    dir_ = templ;
    // Canaries: port 80 on every canary address, plus the echo upstream on
    // 10.0.0.5:8080 (an internal origin that redirects).
    std::vector<std::string> argv = {kIp,
                                     "netns",
                                     "exec",
                                     namespaces_->canary(),
                                     "/usr/bin/python3",
                                     "tests/upstream/canary.py"};
    for (const char* address : kCanaryAddresses) {
      argv.push_back(absl::StrCat("--listen=", address, ":80"));
    }
    argv.push_back("--record=" + dir_ + "/canary.log");
    argv.push_back("--ready=" + dir_ + "/canary.ready");
    auto canary = ChildProcess::Start({argv, {}, dir_ + "/canary.out", false});
    ASSERT_TRUE(canary.ok()) << canary.status();
    canary_ = std::move(*canary);
    auto echo = ChildProcess::Start(
        {{kIp, "netns", "exec", namespaces_->canary(), "/usr/bin/python3",
          "tests/upstream/echo_upstream.py", "--host=10.0.0.5", "--port=8080",
          "--port-file=" + dir_ + "/echo.port"},
         {},
         dir_ + "/echo.out",
         false});
    ASSERT_TRUE(echo.ok()) << echo.status();
    echo_ = std::move(*echo);
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    while ((ReadFileOrEmpty(dir_ + "/canary.ready").empty() ||
            ReadFileOrEmpty(dir_ + "/echo.port").empty()) &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    ASSERT_FALSE(ReadFileOrEmpty(dir_ + "/canary.ready").empty());
    ASSERT_FALSE(ReadFileOrEmpty(dir_ + "/echo.port").empty());

    StackOptions options;
    options.start_mcp = false;
    options.vault_command_prefix = {kIp, "netns", "exec", namespaces_->vault()};
    auto stack = Stack::Start(options);
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = std::move(*stack);
  }

  void TearDown() override {
    stack_.reset();
    echo_.reset();
    canary_.reset();
    namespaces_.reset();
    if (!dir_.empty()) RunShell("rm -rf '" + dir_ + "'");
  }

  grpc::Status Bind(const std::string& id, const std::string& origin,
                    bool internal, uint32_t max_redirects) {
    auto vault =
        v1::VaultAdmin::NewStub(CreateUdsChannel(stack_->run("vault.sock")));
    grpc::ClientContext put_context;
    v1::PutSecretRequest put;
    put.set_id(id);
    put.set_value(Stack::kSecret);
    if (internal) {
      put.add_internal_origins(origin);
    } else {
      put.add_origins(origin);
    }
    v1::SecretMetadata metadata;
    grpc::Status status = vault->PutSecret(&put_context, put, &metadata);
    if (!status.ok()) return status;
    session_.clear();  // a new session covers the new capability
    auto admin =
        v1::BrokerAdmin::NewStub(CreateUdsChannel(stack_->run("admin.sock")));
    grpc::ClientContext context;
    v1::CreateCapabilityRequest request;
    v1::Capability& cap = *request.mutable_capability();
    cap.set_name(id);
    cap.set_description("ssrf netns");
    cap.set_secret_id(id);
    cap.set_origin(origin);
    v1::Rule& rule = *cap.add_rules();
    rule.set_effect(v1::Rule::ALLOW);
    rule.add_methods("GET");
    rule.set_path("/**");
    cap.add_agents("demo-agent");
    cap.mutable_limits()->set_connect_timeout_ms(2000);
    cap.mutable_limits()->set_total_timeout_ms(4000);
    cap.mutable_limits()->set_max_redirects(max_redirects);
    v1::Capability created;
    return admin->CreateCapability(&context, request, &created);
  }

  v1::ExecuteResponse Execute(const std::string& capability,
                              const std::string& path,
                              const std::string& redirect_to = "") {
    auto broker =
        v1::Broker::NewStub(CreateUdsChannel(stack_->run("broker.sock")));
    if (session_.empty()) {
      grpc::ClientContext context;
      context.AddMetadata("authorization", "Bearer " + stack_->agent_token());
      v1::Session session;
      EXPECT_TRUE(
          broker->OpenSession(&context, v1::OpenSessionRequest(), &session)
              .ok());
      session_ = session.id();
    }
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + stack_->agent_token());
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(20));
    v1::ExecuteRequest request;
    request.set_session_id(session_);
    request.set_capability(capability);
    request.mutable_request()->set_method("GET");
    request.mutable_request()->set_path(path);
    if (!redirect_to.empty()) {
      v1::QueryParam* to = request.mutable_request()->add_query();
      to->set_name("to");
      to->set_value(redirect_to);
    }
    v1::ExecuteResponse response;
    grpc::Status rpc = broker->Execute(&context, request, &response);
    EXPECT_TRUE(rpc.ok()) << rpc.error_message();
    return response;
  }

  std::vector<std::string> CanaryHits() {
    return absl::StrSplit(ReadFileOrEmpty(dir_ + "/canary.log"), '\n',
                          absl::SkipEmpty());
  }

  std::unique_ptr<Namespaces> namespaces_;
  std::string dir_;
  std::unique_ptr<ChildProcess> canary_;
  std::unique_ptr<ChildProcess> echo_;
  std::unique_ptr<Stack> stack_;
  std::string session_;
};

TEST_F(SsrfNetnsTest, NonLoopbackTargetsAreRefusedAndNeverReached) {
  struct Case {
    const char* name;
    const char* origin;
    const char* redirect_to;  // for redirect cases: the Location
    v1::ReasonCode want;
    const char* in_message;
  };
  const Case kCases[] = {
      {"metadata", "http://169.254.169.254", nullptr,
       v1::REASON_ADDRESS_REFUSED, "169.254.169.254 (link-local)"},
      {"metadata_decimal", "http://2852039166", nullptr,
       v1::REASON_ADDRESS_REFUSED, "(link-local)"},
      {"metadata_hex", "http://0xa9fea9fe", nullptr, v1::REASON_ADDRESS_REFUSED,
       "(link-local)"},
      {"metadata_octal", "http://0251.0376.0251.0376", nullptr,
       v1::REASON_ADDRESS_REFUSED, "(link-local)"},
      {"metadata_mapped", "http://[::ffff:169.254.169.254]", nullptr,
       v1::REASON_ADDRESS_REFUSED, "(link-local)"},
      {"metadata_nat64", "http://[64:ff9b::a9fe:a9fe]", nullptr,
       v1::REASON_ADDRESS_REFUSED, "(link-local)"},
      {"metadata_name", "http://metadata.google.internal", nullptr,
       v1::REASON_ADDRESS_REFUSED, "169.254.169.254 (link-local)"},
      {"metadata_name_dot", "http://metadata.lk-test.", nullptr,
       v1::REASON_ADDRESS_REFUSED, "(link-local)"},
      {"private_10", "http://10.0.0.5", nullptr, v1::REASON_ADDRESS_REFUSED,
       "10.0.0.5 (private)"},
      {"private_10_name", "http://internal.lk-test", nullptr,
       v1::REASON_ADDRESS_REFUSED, "(private)"},
      {"private_192_168", "http://192.168.1.5", nullptr,
       v1::REASON_ADDRESS_REFUSED, "(private)"},
      {"private_192_168_name", "http://printer.lk-test", nullptr,
       v1::REASON_ADDRESS_REFUSED, "(private)"},
      {"private_172_16", "http://172.16.0.5", nullptr,
       v1::REASON_ADDRESS_REFUSED, "(private)"},
      {"cgnat", "http://100.64.0.5", nullptr, v1::REASON_ADDRESS_REFUSED,
       "(carrier-grade NAT)"},
      {"rebinding_mixed_answer", "http://rebind.lk-test", nullptr,
       v1::REASON_ADDRESS_REFUSED, "10.0.0.5 (private)"},
      // The internal echo upstream on 10.0.0.5:8080 redirects elsewhere.
      {"redirect_to_metadata", "http://10.0.0.5:8080",
       "http://169.254.169.254/latest/meta-data/", v1::REASON_REDIRECT_REFUSED,
       "another origin"},
      {"redirect_to_metadata_name", "http://10.0.0.5:8080",
       "http://metadata.google.internal/computeMetadata/v1/",
       v1::REASON_REDIRECT_REFUSED, "another origin"},
      {"redirect_to_other_port", "http://10.0.0.5:8080", "http://10.0.0.5:80/",
       v1::REASON_REDIRECT_REFUSED, "another origin"},
      {"redirect_to_private", "http://10.0.0.5:8080", "http://192.168.1.5/",
       v1::REASON_REDIRECT_REFUSED, "another origin"},
  };
  int n = 0;
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    std::string id = absl::StrCat("netns-", n++);
    bool redirect = c.redirect_to != nullptr;
    ASSERT_TRUE(
        Bind(id, c.origin, /*internal=*/redirect, redirect ? 3 : 0).ok());
    v1::ExecuteResponse response =
        Execute(id, redirect ? "/redirect" : "/latest/meta-data/",
                redirect ? c.redirect_to : "");
    ASSERT_EQ(response.decision(), v1::DECISION_DENY)
        << response.ShortDebugString();
    EXPECT_EQ(response.denial().code(), c.want) << response.denial().message();
    EXPECT_TRUE(absl::StrContains(response.denial().message(), c.in_message))
        << response.denial().message();
    std::cerr << c.name << ": " << response.denial().message() << "\n";
  }
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_TRUE(CanaryHits().empty()) << absl::StrJoin(CanaryHits(), ", ");

  // Control: the same kind of target, marked internal, is reached, so the
  // namespace routes and the canary counts; an empty log above is real.
  ASSERT_TRUE(Bind("control", "http://169.254.169.254", true, 0).ok());
  v1::ExecuteResponse control = Execute("control", "/latest/meta-data/");
  EXPECT_EQ(control.denial().code(), v1::REASON_UPSTREAM_ERROR)
      << control.ShortDebugString();
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (CanaryHits().empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(CanaryHits(), std::vector<std::string>{"169.254.169.254:80"});
}

}  // namespace
}  // namespace latchkey::testing
