#include "common/uds_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "common/peer_guard.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "proto/audit.grpc.pb.h"

namespace latchkey {
namespace {

constexpr char kAppend[] = "/latchkey.v1.AuditAppend/Append";

// EchoUidService answers Append with the caller's uid as the sequence, so
// the test can see which credentials the server attributed to the call.
class EchoUidService final : public v1::AuditAppend::Service {
 public:
  explicit EchoUidService(const PeerGuard* guard) : guard_(guard) {}
  grpc::Status Append(grpc::ServerContext* context, const v1::AppendRequest*,
                      v1::AppendResponse* response) override {
    auto peer = guard_->Authorize(*context, kAppend);
    if (!peer.ok()) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          std::string(peer.status().message()));
    }
    response->set_sequence(peer->uid);
    return grpc::Status::OK;
  }

 private:
  const PeerGuard* guard_;
};

class UdsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/lk-uds-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    dir_ = templ;
    socket_path_ = dir_ + "/run/test.sock";
  }
  void TearDown() override {
    std::string cmd = "rm -rf " + dir_;
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  grpc::Status CallAppend(v1::AppendResponse* response) {
    auto stub = v1::AuditAppend::NewStub(CreateUdsChannel(socket_path_));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(5));
    v1::AppendRequest request;
    return stub->Append(&context, request, response);
  }
  std::string dir_;
  std::string socket_path_;
};

TEST_F(UdsServerTest, AllowedPeerIsIdentifiedBySoPeercred) {
  PeerGuard guard;
  guard.AllowUids("writer", {getuid()});
  guard.Permit(kAppend, "writer");
  EchoUidService service(&guard);
  auto server = UdsServer::Start({socket_path_, 0660, &guard, false},
                                 {&service});
  ASSERT_TRUE(server.ok()) << server.status();
  v1::AppendResponse response;
  grpc::Status status = CallAppend(&response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.sequence(), getuid());

  struct stat st;
  ASSERT_EQ(stat(socket_path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  ASSERT_EQ(stat((dir_ + "/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);

  (*server)->Shutdown();
  EXPECT_NE(access(socket_path_.c_str(), F_OK), 0) << "socket not removed";
}

TEST_F(UdsServerTest, PeerOutsideAllowListGetsPermissionDenied) {
  PeerGuard guard;
  guard.AllowUids("writer", {getuid() + 4242});
  guard.Permit(kAppend, "writer");
  EchoUidService service(&guard);
  auto server = UdsServer::Start({socket_path_, 0660, &guard, false},
                                 {&service});
  ASSERT_TRUE(server.ok()) << server.status();
  v1::AppendResponse response;
  grpc::Status status = CallAppend(&response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(status.error_message().find("may not call"), std::string::npos);
}

TEST_F(UdsServerTest, MethodWithoutPermissionEntryIsDenied) {
  PeerGuard guard;
  guard.AllowUids("writer", {getuid()});
  EchoUidService service(&guard);  // No Permit(): default deny.
  auto server = UdsServer::Start({socket_path_, 0660, &guard, false},
                                 {&service});
  ASSERT_TRUE(server.ok());
  v1::AppendResponse response;
  EXPECT_EQ(CallAppend(&response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(UdsServerTest, ReplacesStaleSocketButNotARegularFile) {
  PeerGuard guard;
  EchoUidService service(&guard);
  {
    auto first = UdsServer::Start({socket_path_, 0660, &guard, false},
                                  {&service});
    ASSERT_TRUE(first.ok());
    // A second server on a live socket must refuse to steal it.
    auto second = UdsServer::Start({socket_path_, 0660, &guard, false},
                                   {&service});
    EXPECT_FALSE(second.ok());
  }
  // Leave a stale socket file behind, as a crashed daemon would.
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, socket_path_.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
  auto again = UdsServer::Start({socket_path_, 0660, &guard, false},
                                {&service});
  EXPECT_TRUE(again.ok()) << again.status();
  (*again)->Shutdown();

  std::ofstream(socket_path_) << "not a socket";
  auto refused = UdsServer::Start({socket_path_, 0660, &guard, false},
                                  {&service});
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(std::string(refused.status().message()).find("not a socket"),
            std::string::npos);
}

TEST_F(UdsServerTest, RejectsOverlongPathAndWorldAccessibleMode) {
  PeerGuard guard;
  EchoUidService service(&guard);
  auto too_long = UdsServer::Start(
      {dir_ + "/" + std::string(120, 'x'), 0660, &guard, false}, {&service});
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kInvalidArgument);
  auto too_open =
      UdsServer::Start({socket_path_, 0666, &guard, false}, {&service});
  EXPECT_EQ(too_open.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseUidListTest, NumbersAndNames) {
  auto uids = ParseUidList("0, 1000,root");
  ASSERT_TRUE(uids.ok());
  EXPECT_EQ(*uids, (std::vector<uid_t>{0, 1000, 0}));
  EXPECT_FALSE(ParseUidList("no-such-user-xyz").ok());
}

}  // namespace
}  // namespace latchkey

namespace latchkey {
namespace {

TEST_F(UdsServerTest, ShutdownDoesNotWaitForIdleClientConnections) {
  PeerGuard guard;
  guard.AllowUids("writer", {getuid()});
  guard.Permit(kAppend, "writer");
  EchoUidService service(&guard);
  auto server = UdsServer::Start({socket_path_, 0660, &guard, false},
                                 {&service});
  ASSERT_TRUE(server.ok());
  // A client that keeps its channel open, as the broker does.
  auto channel = CreateUdsChannel(socket_path_);
  auto stub = v1::AuditAppend::NewStub(channel);
  grpc::ClientContext context;
  v1::AppendResponse response;
  ASSERT_TRUE(stub->Append(&context, v1::AppendRequest(), &response).ok());
  absl::Time start = absl::Now();
  (*server)->Shutdown(absl::Seconds(5));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

}  // namespace
}  // namespace latchkey
