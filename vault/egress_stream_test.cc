// ExecuteStream end to end, with real components only: a real gRPC server
// on a Unix socket serving EgressService over a real VaultCore (SQLite
// store, unsealed), real libcurl, and a real loopback HTTP upstream
// (tests/upstream/vault_stream_upstream.py). The client is a real gRPC stream,
// as the broker's will be.
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "common/peer_guard.h"
#include "common/uds_server.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "proto/vault.grpc.pb.h"
#include "tests/process.h"
#include "vault/admin_service.h"
#include "vault/egress_service.h"
#include "vault/response_scrubber.h"
#include "vault/secret_store.h"
#include "vault/stream_answer.h"
#include "vault/upstream_client.h"
#include "vault/vault_core.h"

namespace latchkey::vault {
namespace {

using ::latchkey::testing::ChildProcess;
using ::latchkey::testing::ReadFileOrEmpty;
using json = nlohmann::json;

constexpr char kUpstreamScript[] = "tests/upstream/vault_stream_upstream.py";
constexpr char kSecret[] = "lk_stream_T0ken_9f3c2a71be40d";
constexpr uint64_t kMiB = 1024 * 1024;

// PatternBytes regenerates stream_upstream.py's body pattern.
std::string PatternBytes(size_t n) {
  std::string block(1 << 20, '\0');
  for (size_t i = 0; i < block.size(); ++i) {
    block[i] = static_cast<char>(((i * 131) + (i >> 9)) & 0xFF);
  }
  std::string out;
  out.reserve(n);
  while (out.size() < n) {
    out.append(block, 0, std::min(block.size(), n - out.size()));
  }
  return out;
}

// What one ExecuteStream call produced, in order.
struct StreamOutcome {
  grpc::Status status;
  std::vector<char> order;  // 'h' head, 'c' chunk, 'e' end.
  v1::VaultExecuteResponse head;
  std::string body;
  size_t largest_chunk = 0;
  v1::StreamEnd end;
};

// One vault, server, upstream and channel for the whole suite: starting
// them per test costs more than the tests themselves. Tests that seal the
// vault unseal it again (SetUp).
// AllowRule adds "ALLOW * `path`" to the request's rules: the vault
// follows a redirect only to a hop its rules allow.
void AllowRule(v1::RequestRules* rules, const std::string& path) {
  v1::Rule* rule = rules->add_rules();
  rule->set_effect(v1::Rule::ALLOW);
  rule->add_methods("*");
  rule->set_path(path);
}

class EgressStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char templ[] = "/tmp/lk-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    dir_ = new std::string(templ);
    StartUpstream();
    auto store = OpenSqliteSecretStore(*dir_ + "/state");
    ASSERT_TRUE(store.ok()) << store.status();
    VaultCoreOptions options;
    options.scrypt = {1024, 8, 1};
    options.background_rewrap = false;
    core_ = new VaultCore(std::move(*store), options);
    auto init = core_->Init(v1::InitRequest());
    ASSERT_TRUE(init.ok()) << init.status();
    shares_ = new std::vector<std::string>(init->unseal_keys().begin(),
                                           init->unseal_keys().end());
    Unseal();
    PutSecret("stream-token", kSecret, v1::AuthScheme());
    client_ = new UpstreamClient();
    guard_ = new PeerGuard();
    guard_->AllowUids("broker", {getuid()});
    ConfigureVaultPermissions(guard_);
    egress_ = new EgressService(core_, client_, guard_);
    auto server =
        UdsServer::Start({*dir_ + "/v.sock", 0600, guard_, false}, {egress_});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
    stub_ =
        v1::VaultEgress::NewStub(CreateUdsChannel(*dir_ + "/v.sock")).release();
  }

  static void TearDownTestSuite() {
    // The client channel first: destroyed after its server is gone, it may
    // wait seconds for gRPC's shutdown.
    delete stub_;
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(5));
    delete server_;
    delete egress_;
    delete guard_;
    delete client_;
    delete core_;
    delete upstream_;
    (void)!std::system(("rm -rf '" + *dir_ + "'").c_str());
  }

  void SetUp() override {
    ASSERT_NE(stub_, nullptr);
    if (core_->Status().sealed()) Unseal();
  }

  static void Unseal() {
    for (int i = 0; i < 3; ++i) {
      v1::UnsealRequest unseal;
      unseal.set_key((*shares_)[i]);
      ASSERT_TRUE(core_->Unseal(unseal).ok());
    }
  }

  static void StartUpstream() {
    std::string port_file = *dir_ + "/upstream.port";
    auto child = ChildProcess::Start(
        {{"/usr/bin/python3", kUpstreamScript, "--port-file=" + port_file},
         {},
         *dir_ + "/upstream.log",
         false});
    ASSERT_TRUE(child.ok()) << child.status();
    upstream_ = child->release();
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    std::string port;
    while (port.empty() && absl::Now() < deadline) {
      port = ReadFileOrEmpty(port_file);
      if (port.empty()) absl::SleepFor(absl::Milliseconds(20));
    }
    ASSERT_FALSE(port.empty()) << "upstream did not start";
    origin_ = new std::string("http://127.0.0.1:" + port);
  }

  static void PutSecret(const std::string& id, const std::string& value,
                        const v1::AuthScheme& auth) {
    v1::PutSecretRequest put;
    put.set_id(id);
    put.set_value(value);
    *put.mutable_auth() = auth;
    put.add_internal_origins(*origin_);  // a loopback upstream.
    auto stored = core_->PutSecret(put);
    ASSERT_TRUE(stored.ok()) << stored.status();
  }

  v1::VaultExecuteRequest Head(const std::string& method,
                               const std::string& path,
                               const std::string& secret = "stream-token") {
    v1::VaultExecuteRequest head;
    head.set_request_id("stream-test");
    head.set_secret_id(secret);
    head.set_origin(*origin_);
    head.set_method(method);
    head.set_path(path);
    return head;
  }

  // Stream runs one call: the head (with `content_length`), then `body` in
  // `chunk`-byte messages from a writer thread while this thread reads.
  // `on_chunk` runs after each body chunk is received.
  StreamOutcome Stream(const v1::VaultExecuteRequest& head,
                       const std::string& body = "",
                       std::optional<uint64_t> content_length = std::nullopt,
                       size_t chunk = kStreamChunkBytes,
                       const std::function<void(size_t)>& on_chunk = nullptr) {
    StreamOutcome outcome;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(30));
    auto stream = stub_->ExecuteStream(&context);
    v1::VaultStreamRequest first;
    *first.mutable_head() = head;
    if (content_length.has_value()) first.set_content_length(*content_length);
    std::atomic<bool> done{false};
    std::thread writer([&] {
      if (!stream->Write(first)) return;
      for (size_t offset = 0; offset < body.size() && !done; offset += chunk) {
        v1::VaultStreamRequest message;
        message.set_body_chunk(body.substr(offset, chunk));
        if (!stream->Write(message)) return;
      }
      stream->WritesDone();
    });
    v1::VaultStreamReply reply;
    size_t chunks = 0;
    while (stream->Read(&reply)) {
      switch (reply.part_case()) {
        case v1::VaultStreamReply::kHead:
          outcome.order.push_back('h');
          outcome.head = reply.head();
          break;
        case v1::VaultStreamReply::kBodyChunk:
          if (outcome.order.empty() || outcome.order.back() != 'c') {
            outcome.order.push_back('c');
          }
          outcome.largest_chunk =
              std::max(outcome.largest_chunk, reply.body_chunk().size());
          outcome.body += reply.body_chunk();
          ++chunks;
          if (on_chunk) on_chunk(chunks);
          break;
        case v1::VaultStreamReply::kEnd:
          outcome.order.push_back('e');
          outcome.end = reply.end();
          break;
        default:
          ADD_FAILURE() << "empty reply";
      }
    }
    done = true;
    writer.join();
    outcome.status = stream->Finish();
    return outcome;
  }

  static std::string* dir_;
  static std::string* origin_;
  static std::vector<std::string>* shares_;
  static ChildProcess* upstream_;
  static VaultCore* core_;
  static UpstreamClient* client_;
  static PeerGuard* guard_;
  static EgressService* egress_;
  static UdsServer* server_;
  static v1::VaultEgress::Stub* stub_;
};

std::string* EgressStreamTest::dir_ = nullptr;
std::string* EgressStreamTest::origin_ = nullptr;
std::vector<std::string>* EgressStreamTest::shares_ = nullptr;
ChildProcess* EgressStreamTest::upstream_ = nullptr;
VaultCore* EgressStreamTest::core_ = nullptr;
UpstreamClient* EgressStreamTest::client_ = nullptr;
PeerGuard* EgressStreamTest::guard_ = nullptr;
EgressService* EgressStreamTest::egress_ = nullptr;
UdsServer* EgressStreamTest::server_ = nullptr;
v1::VaultEgress::Stub* EgressStreamTest::stub_ = nullptr;

const std::vector<char> kHeadChunksEnd = {'h', 'c', 'e'};

TEST_F(EgressStreamTest, Downloads64MiBInOrderAndIntact) {
  v1::VaultExecuteRequest head =
      Head("GET", absl::StrCat("/download?bytes=", 64 * kMiB));
  head.clear_path();
  head.set_path("/download");
  v1::QueryParam* param = head.add_query();
  param->set_name("bytes");
  param->set_value(absl::StrCat(64 * kMiB));
  head.mutable_limits()->set_max_response_bytes(128 * kMiB);
  StreamOutcome out = Stream(head);
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  EXPECT_EQ(out.order, kHeadChunksEnd);
  EXPECT_EQ(out.head.response().status(), 200);
  EXPECT_TRUE(out.head.response().body().empty());
  for (const v1::Header& header : out.head.response().headers()) {
    EXPECT_FALSE(absl::EqualsIgnoreCase(header.name(), "content-length"));
  }
  EXPECT_LE(out.largest_chunk, kStreamChunkBytes);
  ASSERT_EQ(out.body.size(), 64 * kMiB);
  EXPECT_EQ(Sha256Hex(out.body), Sha256Hex(PatternBytes(64 * kMiB)));
  EXPECT_EQ(out.end.body_bytes(), 64 * kMiB);
  EXPECT_FALSE(out.end.body_truncated());
  EXPECT_TRUE(out.end.error().empty());
  EXPECT_EQ(out.end.redactions(), 0u);
  EXPECT_GT(out.end.upstream_latency_us(), 0);
}

v1::VaultExecuteRequest WithQuery(v1::VaultExecuteRequest head,
                                  const std::string& name,
                                  const std::string& value) {
  v1::QueryParam* param = head.add_query();
  param->set_name(name);
  param->set_value(value);
  return head;
}

TEST_F(EgressStreamTest, Uploads20MiBWithContentLength) {
  v1::VaultExecuteRequest head = Head("POST", "/upload");
  head.mutable_limits()->set_max_request_bytes(32 * kMiB);
  const std::string body = PatternBytes(20 * kMiB);
  StreamOutcome out = Stream(head, body, body.size());
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  EXPECT_EQ(out.order, kHeadChunksEnd);
  json answer = json::parse(out.body);
  EXPECT_EQ(answer["bytes"], body.size());
  EXPECT_EQ(answer["sha256"], Sha256Hex(body));
  EXPECT_EQ(answer["chunked"], false);
  EXPECT_EQ(out.end.request_bytes(), body.size());
}

TEST_F(EgressStreamTest, Uploads20MiBChunkedWithoutContentLength) {
  v1::VaultExecuteRequest head = Head("PUT", "/upload");
  head.mutable_limits()->set_max_request_bytes(32 * kMiB);
  const std::string body = PatternBytes(20 * kMiB + 12345);
  // Odd-sized messages: the upload does not depend on the chunking.
  StreamOutcome out = Stream(head, body, std::nullopt, 100000);
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  json answer = json::parse(out.body);
  EXPECT_EQ(answer["bytes"], body.size());
  EXPECT_EQ(answer["sha256"], Sha256Hex(body));
  EXPECT_EQ(answer["chunked"], true);
  EXPECT_EQ(out.end.request_bytes(), body.size());
}

TEST_F(EgressStreamTest, SmallBodyIsSentWholeLikeExecute) {
  v1::VaultExecuteRequest head = Head("POST", "/upload");
  const std::string body = PatternBytes(3 * kMiB);
  StreamOutcome out = Stream(head, body);  // no content_length announced.
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  json answer = json::parse(out.body);
  EXPECT_EQ(answer["bytes"], body.size());
  EXPECT_EQ(answer["chunked"], false);  // in memory: Content-Length known.
  EXPECT_EQ(out.end.request_bytes(), body.size());
}

TEST_F(EgressStreamTest, CredentialAcrossChunkBoundariesIsScrubbed) {
  for (const char* every : {"16384", "65536", "262144", "100003"}) {
    v1::VaultExecuteRequest head = WithQuery(
        WithQuery(Head("GET", "/planted"), "size", absl::StrCat(2 * kMiB)),
        "every", every);
    StreamOutcome out = Stream(head);
    ASSERT_TRUE(out.status.ok()) << out.status.error_message();
    int planted = 0;
    for (const v1::Header& header : out.head.response().headers()) {
      if (header.name() == "X-Planted") planted = std::stoi(header.value());
    }
    ASSERT_GT(planted, 5) << every;
    EXPECT_FALSE(absl::StrContains(out.body, kSecret)) << every;
    EXPECT_FALSE(absl::StrContains(out.body, "lk_stream_T0ken")) << every;
    EXPECT_EQ(out.end.redactions(), static_cast<uint32_t>(planted)) << every;
    EXPECT_EQ(out.end.body_bytes(), out.body.size());
  }
}

// An upstream that declares a body over the cap (Content-Length) is
// refused in the head: body_truncated is set there and no byte follows.
TEST_F(EgressStreamTest, ResponseDeclaredOverTheCapIsRefusedInTheHead) {
  v1::VaultExecuteRequest head =
      WithQuery(Head("GET", "/download"), "bytes", absl::StrCat(3 * kMiB));
  head.mutable_limits()->set_max_response_bytes(kMiB + 7);
  StreamOutcome out = Stream(head);
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  EXPECT_EQ(out.order, std::vector<char>({'h', 'e'}));
  EXPECT_TRUE(out.head.response().body_truncated());
  EXPECT_TRUE(out.end.body_truncated());
  EXPECT_TRUE(out.body.empty());
  EXPECT_TRUE(out.end.error().empty());
}

// A body without a declared length is cut at the cap.
TEST_F(EgressStreamTest, ResponseCapTruncates) {
  v1::VaultExecuteRequest head =
      WithQuery(Head("GET", "/chunked"), "bytes", absl::StrCat(3 * kMiB));
  head.mutable_limits()->set_max_response_bytes(kMiB + 7);
  StreamOutcome out = Stream(head);
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  EXPECT_EQ(out.order, kHeadChunksEnd);
  EXPECT_TRUE(out.end.body_truncated());
  EXPECT_EQ(out.body, PatternBytes(kMiB + 7));
  EXPECT_TRUE(out.end.error().empty());
}

TEST_F(EgressStreamTest, UpstreamDisconnectMidBodyEndsWithError) {
  v1::VaultExecuteRequest head =
      WithQuery(Head("GET", "/disconnect"), "bytes", "300000");
  StreamOutcome out = Stream(head);
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  ASSERT_FALSE(out.order.empty());
  EXPECT_EQ(out.order.front(), 'h');
  EXPECT_EQ(out.order.back(), 'e');
  EXPECT_EQ(out.head.response().status(), 200);
  EXPECT_FALSE(out.end.error().empty());
  EXPECT_LE(out.body.size(), 300000u);
}

TEST_F(EgressStreamTest, SameOriginRedirectIsFollowedAndItsBodyDropped) {
  v1::VaultExecuteRequest head =
      WithQuery(Head("GET", "/redirect"), "to", "/download?bytes=5000");
  head.mutable_limits()->set_max_redirects(2);
  AllowRule(head.mutable_rules(), "/**");
  StreamOutcome out = Stream(head);
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  EXPECT_EQ(out.head.response().status(), 200);
  ASSERT_EQ(out.head.redirects_size(), 1);
  EXPECT_EQ(out.head.redirects(0), "GET /download");
  EXPECT_EQ(out.body, PatternBytes(5000));
}

TEST_F(EgressStreamTest, RedirectHopTheRulesDenyIsNeverSent) {
  v1::VaultExecuteRequest head =
      WithQuery(Head("GET", "/redirect"), "to", "/download?bytes=5000");
  head.mutable_limits()->set_max_redirects(2);
  AllowRule(head.mutable_rules(), "/redirect");
  StreamOutcome out = Stream(head);
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  EXPECT_EQ(out.head.refusal_code(), v1::REASON_REDIRECT_REFUSED);
  EXPECT_TRUE(
      absl::StrContains(out.head.refusal_message(), "the hop was not sent"))
      << out.head.refusal_message();
  EXPECT_TRUE(out.body.empty());
}

TEST_F(EgressStreamTest, RedirectRepeatingAStreamedBodyIsRefused) {
  v1::VaultExecuteRequest head = Head("POST", "/redirect307");
  head.mutable_limits()->set_max_redirects(2);
  head.mutable_limits()->set_max_request_bytes(32 * kMiB);
  const std::string body = PatternBytes(10 * kMiB);
  StreamOutcome out = Stream(head, body, body.size());
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  EXPECT_EQ(out.order, std::vector<char>{'h'});
  EXPECT_EQ(out.head.refusal_code(), v1::REASON_REDIRECT_REFUSED);
  EXPECT_TRUE(absl::StrContains(out.head.refusal_message(),
                                "a streamed body cannot be sent again"))
      << out.head.refusal_message();
}

TEST_F(EgressStreamTest, BodySigningSchemesRefuseBodiesAbove8MiB) {
  v1::AuthScheme hmac;
  hmac.mutable_hmac()->set_signature_header("X-Signature");
  PutSecret("hmac-key", "hmac-key-0123456789abcdef", hmac);
  v1::AuthScheme sigv4;
  sigv4.mutable_aws_sigv4()->set_region("us-east-1");
  sigv4.mutable_aws_sigv4()->set_service("s3");
  PutSecret("aws-key",
            R"({"access_key_id":"AKIDEXAMPLE","secret_access_key":)"
            R"("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"})",
            sigv4);
  const std::string big = PatternBytes(9 * kMiB);
  for (const char* id : {"hmac-key", "aws-key"}) {
    v1::VaultExecuteRequest head = Head("PUT", "/upload", id);
    head.mutable_limits()->set_max_request_bytes(32 * kMiB);
    StreamOutcome out = Stream(head, big, big.size());
    EXPECT_EQ(out.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << id;
    EXPECT_TRUE(absl::StrContains(out.status.error_message(), "8 MiB"))
        << out.status.error_message();
    EXPECT_TRUE(out.order.empty()) << id;
    // A body that fits is held in memory and signed as usual.
    StreamOutcome small = Stream(head, PatternBytes(kMiB), kMiB);
    EXPECT_TRUE(small.status.ok()) << id << small.status.error_message();
    EXPECT_EQ(small.head.response().status(), 200) << id;
  }
  v1::VaultExecuteRequest head = Head("PUT", "/upload", "hmac-key");
  head.mutable_limits()->set_max_request_bytes(32 * kMiB);
  StreamOutcome out = Stream(head, big, big.size());
  EXPECT_TRUE(absl::StrContains(out.status.error_message(), "hmac"))
      << out.status.error_message();
}

TEST_F(EgressStreamTest, SealedVaultIsRefusedLikeExecute) {
  core_->Seal();
  StreamOutcome out = Stream(Head("GET", "/download"));
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(out.order.empty());
}

TEST_F(EgressStreamTest, SealMidTransferEndsTheStream) {
  v1::VaultExecuteRequest head =
      WithQuery(Head("GET", "/download"), "bytes", absl::StrCat(64 * kMiB));
  head.mutable_limits()->set_max_response_bytes(128 * kMiB);
  StreamOutcome out =
      Stream(head, "", std::nullopt, kStreamChunkBytes, [&](size_t chunks) {
        if (chunks == 1) core_->Seal();
      });
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  EXPECT_EQ(out.order.back(), 'e');
  EXPECT_EQ(out.end.error(), kSealedDuringTransfer);
  EXPECT_LT(out.body.size(), 64 * kMiB);
}

TEST_F(EgressStreamTest, OversizeContentLengthIsRefusedBeforeTheBody) {
  v1::VaultExecuteRequest head = Head("POST", "/upload");
  head.mutable_limits()->set_max_request_bytes(16 * kMiB);
  // No body is sent: the refusal must not wait for one.
  StreamOutcome out = Stream(head, "", 16 * kMiB + 1);
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(out.status.error_message(), "content_length"))
      << out.status.error_message();
}

TEST_F(EgressStreamTest, BodyLongerThanContentLengthIsRefused) {
  v1::VaultExecuteRequest head = Head("POST", "/upload");
  head.mutable_limits()->set_max_request_bytes(32 * kMiB);
  const std::string body = PatternBytes(11 * kMiB);
  StreamOutcome out = Stream(head, body, 10 * kMiB);
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(out.order.empty());
}

TEST_F(EgressStreamTest, LimitsAboveTheStreamingCapAreRefused) {
  v1::VaultExecuteRequest head = Head("GET", "/download");
  head.mutable_limits()->set_max_response_bytes(kMaxStreamedBodyBytes + 1);
  StreamOutcome out = Stream(head);
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(EgressStreamTest, BrokerLeavingMidBodyStopsTheUpstreamTransfer) {
  auto aborted = [&]() -> int {
    grpc::ClientContext context;
    v1::VaultExecuteResponse response;
    grpc::Status status =
        stub_->Execute(&context, Head("GET", "/stats"), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    json stats = json::parse(response.response().body(), nullptr, false);
    return stats.is_discarded() ? -1 : stats.value("aborted", -1);
  };
  const int before = aborted();
  ASSERT_GE(before, 0);
  grpc::ClientContext context;
  auto stream = stub_->ExecuteStream(&context);
  v1::VaultStreamRequest first;
  *first.mutable_head() =
      WithQuery(Head("GET", "/download"), "bytes", absl::StrCat(256 * kMiB));
  first.mutable_head()->mutable_limits()->set_max_response_bytes(512 * kMiB);
  ASSERT_TRUE(stream->Write(first));
  stream->WritesDone();
  v1::VaultStreamReply reply;
  ASSERT_TRUE(stream->Read(&reply));
  EXPECT_TRUE(reply.has_head());
  ASSERT_TRUE(stream->Read(&reply));
  EXPECT_TRUE(reply.has_body_chunk());
  context.TryCancel();
  while (stream->Read(&reply)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  // The vault closed the upstream connection rather than draining 256 MiB
  // nobody will read: the upstream saw its write fail.
  int after = before;
  for (int i = 0; i < 100 && after == before; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    after = aborted();
  }
  EXPECT_EQ(after, before + 1);
}

TEST_F(EgressStreamTest, OnlyTheBrokerMayCallExecuteStream) {
  // The same service behind a guard that gives the broker role to another
  // uid: this process is then an unknown peer.
  PeerGuard other;
  other.AllowUids("broker", {getuid() + 1});
  ConfigureVaultPermissions(&other);
  EgressService egress(core_, client_, &other);
  const std::string socket = *dir_ + "/other.sock";
  auto server = UdsServer::Start({socket, 0600, &other, false}, {&egress});
  ASSERT_TRUE(server.ok()) << server.status();
  {
    auto stub = v1::VaultEgress::NewStub(CreateUdsChannel(socket));
    grpc::ClientContext context;
    auto stream = stub->ExecuteStream(&context);
    v1::VaultStreamRequest first;
    *first.mutable_head() = Head("GET", "/download");
    stream->Write(first);
    stream->WritesDone();
    v1::VaultStreamReply reply;
    EXPECT_FALSE(stream->Read(&reply));
    EXPECT_EQ(stream->Finish().error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  (*server)->Shutdown(absl::Seconds(5));
}

// --- Content codings and default headers -----------------------------------
// The upstream's /coded endpoint reflects the bearer token (raw, base64,
// hex, percent-encoded) in a body it compresses whatever the request asked
// for. Neither path may pass encoded bytes on: the body is decoded and
// scrubbed, or refused.

// Every form of kSecret the upstream reflects.
std::vector<std::string> SecretForms() {
  const std::string secret = kSecret;
  return {secret, "bGtfc3RyZWFtX1Qwa2VuXzlmM2MyYTcxYmU0MGQ", HexEncode(secret),
          absl::AsciiStrToUpper(HexEncode(secret))};
}

void ExpectNoSecret(const std::string& text, const std::string& label) {
  for (const std::string& form : SecretForms()) {
    EXPECT_FALSE(absl::StrContains(text, form)) << label << ": " << form;
  }
  // The start of a gzip stream (or of the token itself, cut short).
  EXPECT_FALSE(absl::StrContains(text, "\x1f\x8b")) << label;
  EXPECT_FALSE(absl::StrContains(text, "lk_stream")) << label;
}

std::string HeaderValue(const v1::HttpResponse& response,
                        const std::string& name) {
  for (const v1::Header& header : response.headers()) {
    if (absl::EqualsIgnoreCase(header.name(), name)) return header.value();
  }
  return "";
}

bool HasHeader(const v1::HttpResponse& response, const std::string& name) {
  for (const v1::Header& header : response.headers()) {
    if (absl::EqualsIgnoreCase(header.name(), name)) return true;
  }
  return false;
}

// Execute runs one unary call (the buffered path).
v1::VaultExecuteResponse Execute(v1::VaultEgress::Stub* stub,
                                 const v1::VaultExecuteRequest& request,
                                 grpc::Status* status) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(30));
  v1::VaultExecuteResponse response;
  *status = stub->Execute(&context, request, &response);
  return response;
}

// Each decoded line is the upstream's JSON line with every form redacted.
void ExpectDecodedAndScrubbed(const std::string& body, int lines,
                              const std::string& label) {
  ExpectNoSecret(body, label);
  std::vector<std::string> parsed = absl::StrSplit(body, '\n');
  ASSERT_EQ(parsed.size(), static_cast<size_t>(lines + 1)) << label;
  EXPECT_TRUE(parsed.back().empty()) << label;
  for (int i = 0; i < lines; ++i) {
    json line = json::parse(parsed[i], nullptr, false);
    ASSERT_FALSE(line.is_discarded()) << label << ": " << parsed[i];
    for (const char* field : {"raw", "base64", "hex", "percent"}) {
      EXPECT_EQ(line.value(field, ""), std::string(kRedactionMarker))
          << label << " " << field;
    }
  }
}

const char* const kDecodable[] = {"gzip", "deflate",   "br",
                                  "zstd", "gzip-gzip", "te-gzip"};

TEST_F(EgressStreamTest, EncodedAnswerIsDecodedThenScrubbedOnExecute) {
  for (const char* coding : kDecodable) {
    grpc::Status status;
    v1::VaultExecuteResponse response =
        Execute(stub_,
                WithQuery(WithQuery(Head("GET", "/coded"), "coding", coding),
                          "repeat", "3"),
                &status);
    ASSERT_TRUE(status.ok()) << coding << status.error_message();
    ASSERT_TRUE(response.upstream_error().empty())
        << coding << ": " << response.upstream_error();
    EXPECT_EQ(response.response().status(), 200) << coding;
    ExpectDecodedAndScrubbed(response.response().body(), 3, coding);
    EXPECT_EQ(response.response().redactions(), 12u) << coding;
    // The body is decoded: no header may claim otherwise, nor give the
    // encoded length.
    EXPECT_FALSE(HasHeader(response.response(), "Content-Encoding")) << coding;
    EXPECT_FALSE(HasHeader(response.response(), "Content-Length")) << coding;
    EXPECT_FALSE(HasHeader(response.response(), "Transfer-Encoding")) << coding;
    EXPECT_EQ(HeaderValue(response.response(), "X-Seen-Accept-Encoding"),
              "identity")
        << coding;
  }
}

TEST_F(EgressStreamTest, EncodedAnswerIsDecodedThenScrubbedOnExecuteStream) {
  // 40000 lines (about 5 MiB decoded, much less on the wire): the decoded
  // body spans many curl writes and stream chunks.
  constexpr int kLines = 40000;
  for (const char* coding : kDecodable) {
    v1::VaultExecuteRequest head =
        WithQuery(WithQuery(Head("GET", "/coded"), "coding", coding), "repeat",
                  absl::StrCat(kLines));
    head.mutable_limits()->set_max_response_bytes(64 * kMiB);
    StreamOutcome out = Stream(head);
    ASSERT_TRUE(out.status.ok()) << coding << out.status.error_message();
    ASSERT_EQ(out.order, kHeadChunksEnd)
        << coding << ": " << out.head.upstream_error();
    EXPECT_TRUE(out.end.error().empty()) << coding << ": " << out.end.error();
    EXPECT_FALSE(out.end.body_truncated()) << coding;
    ExpectDecodedAndScrubbed(out.body, kLines, coding);
    EXPECT_EQ(out.end.redactions(), 4u * kLines) << coding;
    EXPECT_FALSE(HasHeader(out.head.response(), "Content-Encoding")) << coding;
    EXPECT_EQ(HeaderValue(out.head.response(), "X-Seen-Accept-Encoding"),
              "identity")
        << coding;
  }
}

// The cap applies to the decoded bytes: a small compressed answer does not
// bring a large body past it.
TEST_F(EgressStreamTest, ResponseCapAppliesToTheDecodedBody) {
  v1::VaultExecuteRequest head = WithQuery(
      WithQuery(Head("GET", "/coded"), "coding", "gzip"), "repeat", "40000");
  head.mutable_limits()->set_max_response_bytes(kMiB);
  StreamOutcome out = Stream(head);
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  EXPECT_TRUE(out.end.body_truncated());
  EXPECT_LE(out.body.size(), kMiB + 64);
  ExpectNoSecret(out.body, "streamed, capped");
  grpc::Status status;
  v1::VaultExecuteResponse response = Execute(stub_, head, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(response.response().body_truncated());
  ExpectNoSecret(response.response().body(), "buffered, capped");
}

const char* const kUndecodable[] = {"x-custom", "corrupt-gzip",
                                    "gzip-trailing"};

TEST_F(EgressStreamTest, UndecodableAnswerIsRefusedOnExecute) {
  for (const char* coding : kUndecodable) {
    grpc::Status status;
    v1::VaultExecuteResponse response = Execute(
        stub_, WithQuery(Head("GET", "/coded"), "coding", coding), &status);
    ASSERT_TRUE(status.ok()) << coding << status.error_message();
    EXPECT_TRUE(absl::StrContains(response.upstream_error(),
                                  "content coding the vault cannot decode"))
        << coding << ": " << response.upstream_error();
    EXPECT_FALSE(response.has_response()) << coding;
    ExpectNoSecret(response.DebugString(), coding);
  }
}

TEST_F(EgressStreamTest, UndecodableAnswerIsRefusedOnExecuteStream) {
  for (const char* coding : kUndecodable) {
    StreamOutcome out =
        Stream(WithQuery(Head("GET", "/coded"), "coding", coding));
    ASSERT_TRUE(out.status.ok()) << coding << out.status.error_message();
    ASSERT_FALSE(out.order.empty()) << coding;
    // Refused in the head when nothing decoded came first, else in the end
    // (what was sent before is decoded and scrubbed, never encoded).
    const std::string error = out.order == std::vector<char>{'h'}
                                  ? out.head.upstream_error()
                                  : out.end.error();
    EXPECT_TRUE(
        absl::StrContains(error, "content coding the vault cannot decode"))
        << coding << ": " << error;
    ExpectNoSecret(out.body, coding);
    ExpectNoSecret(out.head.DebugString(), coding);
  }
}

// libcurl 7.88 accepts a gzip stream that stops early (no final block, no
// trailer): the decoded body's end is then treated like a cut one, so the
// first half of a credential at the cut is redacted too.
TEST_F(EgressStreamTest, CompressedStreamCutInsideTheCredentialLeaksNoPrefix) {
  v1::VaultExecuteRequest head =
      WithQuery(Head("GET", "/coded"), "coding", "gzip-cut");
  const std::string half = std::string(kSecret).substr(0, 14);
  grpc::Status status;
  v1::VaultExecuteResponse response = Execute(stub_, head, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  if (response.upstream_error().empty()) {
    EXPECT_EQ(response.response().body(),
              absl::StrCat("cut here: ", kRedactionMarker));
  }
  ExpectNoSecret(response.DebugString(), "buffered");
  EXPECT_FALSE(absl::StrContains(response.DebugString(), half));
  StreamOutcome out = Stream(head);
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  if (out.head.upstream_error().empty() && out.end.error().empty()) {
    EXPECT_EQ(out.body, absl::StrCat("cut here: ", kRedactionMarker));
  }
  ExpectNoSecret(out.body, "streamed");
  EXPECT_FALSE(absl::StrContains(out.body, half));
}

// The header policy may refuse an agent's Accept-Encoding outright; if it
// lets one through, the upstream still sees only the vault's.
TEST_F(EgressStreamTest, UpstreamSeesOnlyTheVaultsAcceptEncoding) {
  v1::VaultExecuteRequest request = Head("GET", "/coded");
  request = WithQuery(request, "coding", "gzip");
  v1::Header* header = request.add_headers();
  header->set_name("Accept-Encoding");
  header->set_value("gzip, br");
  grpc::Status status;
  v1::VaultExecuteResponse response = Execute(stub_, request, &status);
  if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    EXPECT_TRUE(absl::StrContains(status.error_message(), "Accept-Encoding"))
        << status.error_message();
  } else {
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(HeaderValue(response.response(), "X-Seen-Accept-Encoding"),
              "identity");
    ExpectDecodedAndScrubbed(response.response().body(), 1, "agent gzip");
  }
  StreamOutcome out = Stream(request);
  if (out.status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    EXPECT_TRUE(
        absl::StrContains(out.status.error_message(), "Accept-Encoding"))
        << out.status.error_message();
  } else {
    ASSERT_TRUE(out.status.ok()) << out.status.error_message();
    EXPECT_EQ(HeaderValue(out.head.response(), "X-Seen-Accept-Encoding"),
              "identity");
    ExpectDecodedAndScrubbed(out.body, 1, "agent gzip, streamed");
  }
}

// What the upstream's /headers endpoint saw, as lower-case name -> values.
std::multimap<std::string, std::string> SeenHeaders(const std::string& body) {
  std::multimap<std::string, std::string> seen;
  json answer = json::parse(body, nullptr, false);
  EXPECT_FALSE(answer.is_discarded()) << body;
  if (answer.is_discarded()) return seen;
  for (const auto& pair : answer["headers"]) {
    seen.emplace(absl::AsciiStrToLower(pair[0].get<std::string>()),
                 pair[1].get<std::string>());
  }
  return seen;
}

// Only the headers the agent (or the auth scheme) set, plus the framing
// ones (Host, Content-Length or Transfer-Encoding) and the vault's
// Accept-Encoding: curl's "Accept: */*" and form Content-Type never go out.
TEST_F(EgressStreamTest, UpstreamSeesNoHeaderTheAgentDidNotSend) {
  struct Case {
    std::string label;
    std::string method;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    bool streamed;
  };
  const std::string big = PatternBytes(9 * kMiB);  // streamed upload.
  const std::vector<Case> cases = {
      {"GET", "GET", "", {}, false},
      {"POST without body", "POST", "", {}, false},
      {"POST form-like body", "POST", "a=b&c=d", {}, false},
      {"PUT body", "PUT", "payload", {}, false},
      {"streamed POST", "POST", big, {}, true},
      {"agent's own",
       "POST",
       "{}",
       {{"Accept", "application/json"}, {"Content-Type", "application/json"}},
       false},
  };
  for (const Case& c : cases) {
    v1::VaultExecuteRequest request = Head(c.method, "/headers");
    request.mutable_limits()->set_max_request_bytes(32 * kMiB);
    for (const auto& [name, value] : c.headers) {
      v1::Header* header = request.add_headers();
      header->set_name(name);
      header->set_value(value);
    }
    std::vector<std::string> bodies;
    if (!c.streamed) {
      v1::VaultExecuteRequest unary = request;
      unary.set_body(c.body);
      grpc::Status status;
      v1::VaultExecuteResponse response = Execute(stub_, unary, &status);
      ASSERT_TRUE(status.ok()) << c.label << status.error_message();
      bodies.push_back(response.response().body());
    }
    StreamOutcome out = Stream(request, c.body, c.body.size());
    ASSERT_TRUE(out.status.ok()) << c.label << out.status.error_message();
    bodies.push_back(out.body);
    for (const std::string& body : bodies) {
      std::multimap<std::string, std::string> seen = SeenHeaders(body);
      EXPECT_EQ(json::parse(body, nullptr, false).value("body_bytes", -1),
                static_cast<int64_t>(c.body.size()))
          << c.label;
      ASSERT_EQ(seen.count("accept-encoding"), 1u) << c.label;
      EXPECT_EQ(seen.find("accept-encoding")->second, "identity") << c.label;
      std::multimap<std::string, std::string> expected_agent;
      for (const auto& [name, value] : c.headers) {
        expected_agent.emplace(absl::AsciiStrToLower(name), value);
      }
      for (const char* name : {"accept", "content-type"}) {
        auto [begin, end] = seen.equal_range(name);
        auto [want_begin, want_end] = expected_agent.equal_range(name);
        std::vector<std::string> got, want;
        for (auto it = begin; it != end; ++it) got.push_back(it->second);
        for (auto it = want_begin; it != want_end; ++it) {
          want.push_back(it->second);
        }
        EXPECT_EQ(got, want) << c.label << ": " << name;
      }
      for (const auto& [name, value] : seen) {
        const bool allowed = name == "host" || name == "accept-encoding" ||
                             name == "content-length" ||
                             name == "transfer-encoding" ||
                             expected_agent.count(name) > 0;
        EXPECT_TRUE(allowed)
            << c.label << ": unexpected " << name << ": " << value;
      }
    }
  }
}

TEST_F(EgressStreamTest, UnaryExecuteStaysWithinItsOwnCaps) {
  v1::VaultExecuteRequest request =
      WithQuery(Head("GET", "/download"), "bytes", absl::StrCat(12 * kMiB));
  request.mutable_limits()->set_max_response_bytes(64 * kMiB);
  grpc::ClientContext context;
  v1::VaultExecuteResponse response;
  grpc::Status status = stub_->Execute(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(response.response().body_truncated());
  EXPECT_EQ(response.response().body().size(), kDefaultMaxResponseBytes);
}

}  // namespace
}  // namespace latchkey::vault

namespace latchkey::vault {
namespace {

// A 307 repeats the request at the new path: a scheme that adds to the body
// (Kraken's nonce) signs the hop afresh from the agent's own body, so the
// hop carries one nonce, not the first hop's body plus a second.
TEST_F(EgressStreamTest, RepeatedHopIsSignedFromTheAgentsBody) {
  v1::AuthScheme kraken;
  kraken.mutable_kraken()->set_key_id("public-key-1");
  PutSecret("kraken-key", "a3Jha2VuLXByaXZhdGUta2V5LTAxMjM0NTY3ODk=", kraken);
  v1::VaultExecuteRequest request = Head("POST", "/redirect307", "kraken-key");
  request.mutable_limits()->set_max_redirects(2);
  AllowRule(request.mutable_rules(), "/**");
  request.set_body("asset=XBT");
  grpc::Status status;
  v1::VaultExecuteResponse response = Execute(stub_, request, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.response().status(), 200)
      << response.refusal_message() << response.upstream_error();
  ASSERT_EQ(response.redirects_size(), 1);
  EXPECT_EQ(response.redirects(0), "POST /upload");
  nlohmann::json seen = nlohmann::json::parse(response.response().body());
  // "nonce=" + 13 digits + "&asset=XBT": one nonce, the agent's field once.
  EXPECT_EQ(seen["bytes"].get<int>(),
            static_cast<int>(std::string("nonce=&asset=XBT").size()) + 13);
}

}  // namespace
}  // namespace latchkey::vault
