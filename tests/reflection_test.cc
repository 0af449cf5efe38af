// Every daemon answers gRPC health checks, and every admin socket serves
// reflection, so an operator's grpcurl needs no .proto files. This test is
// such a client: it speaks the health and reflection protocols with raw
// protobuf bytes and knows none of Latchkey's .proto files.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/uds_server.h"
#include "gtest/gtest.h"
#include "tests/stack.h"

namespace latchkey::testing {
namespace {

std::string ToString(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  (void)buffer.Dump(&slices);
  std::string out;
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

grpc::ByteBuffer FromString(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

void Await(grpc::CompletionQueue* cq, void* expected) {
  void* tag = nullptr;
  bool ok = false;
  ASSERT_TRUE(cq->Next(&tag, &ok));
  ASSERT_EQ(tag, expected);
}

// HealthCheck calls grpc.health.v1.Health/Check for the whole server and
// returns the serialized HealthCheckResponse.
std::string HealthCheck(const std::string& socket, grpc::Status* status) {
  grpc::GenericStub stub(CreateUdsChannel(socket));
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  // HealthCheckRequest{service: ""} serializes to no bytes.
  auto call = stub.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check",
                                    FromString(""), &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  call->Finish(&response, status, reinterpret_cast<void*>(1));
  Await(&cq, reinterpret_cast<void*>(1));
  return ToString(response);
}

// ListServices asks the reflection service for the list of services and
// returns the serialized ServerReflectionResponse.
std::string ListServices(const std::string& socket, grpc::Status* status) {
  grpc::GenericStub stub(CreateUdsChannel(socket));
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  auto call = stub.PrepareCall(
      &context,
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  auto tag = [](int n) { return reinterpret_cast<void*>(n); };
  call->StartCall(tag(1));
  Await(&cq, tag(1));
  // ServerReflectionRequest{list_services: ""}: field 7, length 0.
  call->Write(FromString(std::string("\x3a\x00", 2)), tag(2));
  Await(&cq, tag(2));
  call->WritesDone(tag(3));
  Await(&cq, tag(3));
  grpc::ByteBuffer response;
  call->Read(&response, tag(4));
  Await(&cq, tag(4));
  call->Finish(status, tag(5));
  Await(&cq, tag(5));
  return ToString(response);
}

// CallUnary calls any unary method with a serialized request, as grpcurl
// does after learning the types by reflection.
std::string CallUnary(const std::string& socket, const std::string& method,
                      const std::string& request, grpc::Status* status) {
  grpc::GenericStub stub(CreateUdsChannel(socket));
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  auto call = stub.PrepareUnaryCall(&context, method, FromString(request), &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  call->Finish(&response, status, reinterpret_cast<void*>(1));
  Await(&cq, reinterpret_cast<void*>(1));
  return ToString(response);
}

// Describe asks reflection for the file defining `symbol` (what `grpcurl
// describe` does) and returns the serialized ServerReflectionResponse.
std::string Describe(const std::string& socket, const std::string& symbol,
                     grpc::Status* status) {
  grpc::GenericStub stub(CreateUdsChannel(socket));
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  auto call = stub.PrepareCall(
      &context,
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  auto tag = [](int n) { return reinterpret_cast<void*>(n); };
  call->StartCall(tag(1));
  Await(&cq, tag(1));
  // ServerReflectionRequest{file_containing_symbol: symbol}: field 4.
  std::string request = "\x22";
  request.push_back(static_cast<char>(symbol.size()));
  request += symbol;
  call->Write(FromString(request), tag(2));
  Await(&cq, tag(2));
  call->WritesDone(tag(3));
  Await(&cq, tag(3));
  grpc::ByteBuffer response;
  call->Read(&response, tag(4));
  Await(&cq, tag(4));
  call->Finish(status, tag(5));
  Await(&cq, tag(5));
  return ToString(response);
}

class ReflectionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    StackOptions options;
    options.start_mcp = false;
    auto stack = Stack::Start(options);
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
  }
  static void TearDownTestSuite() { delete stack_; }
  static Stack* stack_;
};

Stack* ReflectionTest::stack_ = nullptr;

TEST_F(ReflectionTest, EverySocketAnswersHealthChecksAsServing) {
  for (const char* socket :
       {"vault.sock", "broker.sock", "admin.sock", "audit.sock"}) {
    grpc::Status status;
    std::string response = HealthCheck(stack_->run(socket), &status);
    ASSERT_TRUE(status.ok()) << socket << ": " << status.error_message();
    // HealthCheckResponse{status: SERVING (1)} is field 1, varint 1.
    EXPECT_EQ(response, std::string("\x08\x01", 2)) << socket;
  }
}

TEST_F(ReflectionTest, AdminSocketsListTheirServicesByReflection) {
  struct Case {
    const char* socket;
    const char* service;
  } cases[] = {{"vault.sock", "latchkey.v1.VaultAdmin"},
               {"admin.sock", "latchkey.v1.BrokerAdmin"},
               {"audit.sock", "latchkey.v1.AuditAdmin"}};
  for (const Case& c : cases) {
    grpc::Status status;
    std::string response = ListServices(stack_->run(c.socket), &status);
    ASSERT_TRUE(status.ok()) << c.socket << ": " << status.error_message();
    EXPECT_TRUE(absl::StrContains(response, c.service))
        << c.socket << " does not list " << c.service;
  }
}

// What an operator does with grpcurl and nothing else: describe a service
// by reflection, then call its RPCs (here with empty requests, which every
// one of these accepts) and read the answers.
TEST_F(ReflectionTest, AdminRpcsAreDescribedAndCallableOnEverySocket) {
  struct Case {
    const char* socket;
    const char* service;
    const char* method;
    const char* expected;  // In the serialized reply.
  } cases[] = {
      {"vault.sock", "latchkey.v1.VaultAdmin", "GetMetrics",
       "latchkey_vault_sealed"},
      {"vault.sock", "latchkey.v1.VaultAdmin", "ListSecrets", "demo-token"},
      {"admin.sock", "latchkey.v1.BrokerAdmin", "GetMetrics",
       "latchkey_broker_requests_total"},
      {"admin.sock", "latchkey.v1.BrokerAdmin", "ListCapabilities", "demo-api"},
      {"audit.sock", "latchkey.v1.AuditAdmin", "GetMetrics",
       "latchkey_audit_appends_total"},
      {"audit.sock", "latchkey.v1.AuditAdmin", "Verify", ""},
  };
  for (const Case& c : cases) {
    grpc::Status status;
    std::string file = Describe(stack_->run(c.socket), c.service, &status);
    ASSERT_TRUE(status.ok()) << c.socket << ": " << status.error_message();
    // The FileDescriptorProto names the method and its message types.
    EXPECT_TRUE(absl::StrContains(file, c.method))
        << c.service << " has no " << c.method;
    EXPECT_TRUE(absl::StrContains(file, "MetricsSnapshot")) << c.service;
    std::string reply =
        CallUnary(stack_->run(c.socket),
                  absl::StrCat("/", c.service, "/", c.method), "", &status);
    ASSERT_TRUE(status.ok())
        << c.service << "/" << c.method << ": " << status.error_message();
    EXPECT_TRUE(absl::StrContains(reply, c.expected))
        << c.service << "/" << c.method;
  }
}

TEST_F(ReflectionTest, AgentSocketDoesNotExposeAdminServices) {
  grpc::Status status;
  std::string response = ListServices(stack_->run("broker.sock"), &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(absl::StrContains(response, "latchkey.v1.Broker"));
  EXPECT_FALSE(absl::StrContains(response, "BrokerAdmin"));
  EXPECT_FALSE(absl::StrContains(response, "VaultEgress"));
}

}  // namespace
}  // namespace latchkey::testing
