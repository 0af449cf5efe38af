#include "common/uds_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "common/peer_guard.h"
#include "common/refusal.h"
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
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_peer_ = context->peer();
    }
    auto peer = guard_->Authorize(*context, kAppend);
    if (!peer.ok()) return ToGrpcStatus(peer.status());
    // The low half is the uid (what most tests check), the high half the
    // pid, which tells connections of one uid apart.
    response->set_sequence(uint64_t{static_cast<uint32_t>(peer->pid)} << 32 |
                           peer->uid);
    return grpc::Status::OK;
  }

  // last_peer is the peer string ("fd:N") of the latest call.
  std::string last_peer() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_peer_;
  }

 private:
  const PeerGuard* guard_;
  std::mutex mu_;
  std::string last_peer_;
};

uid_t UidOf(uint64_t sequence) { return static_cast<uid_t>(sequence); }
pid_t PidOf(uint64_t sequence) { return static_cast<pid_t>(sequence >> 32); }

// ProbeResult is what common/uds_probe printed.
struct ProbeResult {
  int code = -1;
  uint64_t sequence = 0;
  pid_t pid = 0;
  std::string tag;
};

// RunProbe calls Append from a separate process (as `uid`, or "-" for the
// test's own user), so the server sees a connection with its own pid.
ProbeResult RunProbe(const std::string& socket_path, const std::string& uid) {
  std::string command =
      absl::StrCat("timeout 20 common/uds_probe ", socket_path, " ", uid);
  ProbeResult result;
  FILE* out = ::popen(command.c_str(), "r");
  if (out == nullptr) return result;
  char line[256] = {};
  bool got = std::fgets(line, sizeof(line), out) != nullptr;
  ::pclose(out);
  if (got) {
    std::istringstream in(line);
    in >> result.code >> result.sequence >> result.pid >> result.tag;
  }
  return result;
}

// WaitUntilClosed waits until the server has closed its end of the
// connection that was fd `peer` ("fd:N") in this process.
bool WaitUntilClosed(const std::string& peer, ino_t ino) {
  int fd = -1;
  if (!absl::SimpleAtoi(absl::string_view(peer).substr(3), &fd)) return false;
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_ino != ino) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

ino_t InodeOf(const std::string& peer) {
  int fd = -1;
  struct stat st;
  if (!absl::SimpleAtoi(absl::string_view(peer).substr(3), &fd) ||
      fstat(fd, &st) != 0) {
    return 0;
  }
  return st.st_ino;
}

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
  auto server =
      UdsServer::Start({socket_path_, 0660, &guard, false}, {&service});
  ASSERT_TRUE(server.ok()) << server.status();
  v1::AppendResponse response;
  grpc::Status status = CallAppend(&response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(UidOf(response.sequence()), getuid());
  EXPECT_EQ(PidOf(response.sequence()), getpid());

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
  auto server =
      UdsServer::Start({socket_path_, 0660, &guard, false}, {&service});
  ASSERT_TRUE(server.ok()) << server.status();
  v1::AppendResponse response;
  grpc::Status status = CallAppend(&response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(status.error_message().find("may not call"), std::string::npos);
  EXPECT_EQ(RefusalOf(FromGrpcStatus(status)), Refusal::kPeerNotAllowed);
}

TEST_F(UdsServerTest, MethodWithoutPermissionEntryIsDenied) {
  PeerGuard guard;
  guard.AllowUids("writer", {getuid()});
  EchoUidService service(&guard);  // No Permit(): default deny.
  auto server =
      UdsServer::Start({socket_path_, 0660, &guard, false}, {&service});
  ASSERT_TRUE(server.ok());
  v1::AppendResponse response;
  EXPECT_EQ(CallAppend(&response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(UdsServerTest, ReplacesStaleSocketButNotARegularFile) {
  PeerGuard guard;
  EchoUidService service(&guard);
  {
    auto first =
        UdsServer::Start({socket_path_, 0660, &guard, false}, {&service});
    ASSERT_TRUE(first.ok());
    // A second server on a live socket must refuse to steal it.
    auto second =
        UdsServer::Start({socket_path_, 0660, &guard, false}, {&service});
    EXPECT_FALSE(second.ok());
  }
  // Leave a stale socket file behind, as a crashed daemon would.
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, socket_path_.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
  auto again =
      UdsServer::Start({socket_path_, 0660, &guard, false}, {&service});
  EXPECT_TRUE(again.ok()) << again.status();
  (*again)->Shutdown();

  std::ofstream(socket_path_) << "not a socket";
  auto refused =
      UdsServer::Start({socket_path_, 0660, &guard, false}, {&service});
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

TEST(ParseUidListOrSelfTest, EmptyMeansOwnUidOnly) {
  auto empty = ParseUidListOrSelf("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, (std::vector<uid_t>{::getuid()}));
}

TEST(ParseUidListOrSelfTest, ExplicitListIsKeptAndErrorsPassThrough) {
  auto listed = ParseUidListOrSelf("0,root");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, (std::vector<uid_t>{0, 0}));
  auto bad = ParseUidListOrSelf("no-such-user-xyz");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
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
  auto server =
      UdsServer::Start({socket_path_, 0660, &guard, false}, {&service});
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

// A connection's calls must carry its own credentials even when its fd
// number was used by an earlier connection of another process (and, when
// run as root, of another uid the server refuses).
TEST_F(UdsServerTest, ReusedFdNumberNeverCarriesTheEarlierIdentity) {
  PeerGuard guard;
  guard.AllowUids("writer", {getuid()});
  guard.Permit(kAppend, "writer");
  EchoUidService service(&guard);
  auto server =
      UdsServer::Start({socket_path_, 0660, &guard, false}, {&service});
  ASSERT_TRUE(server.ok()) << server.status();
  // Root can connect as nobody, whom the guard refuses; otherwise the
  // second connection differs from the first by its pid only.
  bool as_other_uid = geteuid() == 0;
  // mkdtemp made the directory 0700; nobody (with gid 0) must traverse it.
  ASSERT_EQ(chmod(dir_.c_str(), 0750), 0);
  bool reused = false;
  for (int attempt = 0; attempt < 5 && !reused; ++attempt) {
    ProbeResult first = RunProbe(socket_path_, "-");
    ASSERT_EQ(first.code, 0) << "first probe failed";
    ASSERT_EQ(UidOf(first.sequence), getuid());
    ASSERT_EQ(PidOf(first.sequence), first.pid);
    std::string first_peer = service.last_peer();
    // The probe has exited; its fd number is free once the server closes
    // the connection. Only the fd's current socket's inode is known here.
    ASSERT_TRUE(WaitUntilClosed(first_peer, InodeOf(first_peer)))
        << first_peer << " was never closed";

    ProbeResult second = RunProbe(socket_path_, as_other_uid ? "65534" : "-");
    reused = service.last_peer() == first_peer;
    if (as_other_uid) {
      EXPECT_EQ(second.code,
                static_cast<int>(grpc::StatusCode::PERMISSION_DENIED))
          << "uid 65534 was let in (identity of the earlier connection?)";
      EXPECT_EQ(second.tag, "PEER_NOT_ALLOWED");
    } else {
      ASSERT_EQ(second.code, 0);
      EXPECT_EQ(PidOf(second.sequence), second.pid)
          << "the call was attributed to pid " << PidOf(second.sequence)
          << ", first connection's pid was " << first.pid;
    }
  }
  EXPECT_TRUE(reused) << "the server never reused an fd number; the test "
                         "did not exercise reuse";
}

// A call on a connection whose entry is missing is refused, not guessed.
TEST_F(UdsServerTest, ConnectionWithoutCredentialsIsRefused) {
  PeerGuard guard;
  guard.AllowUids("writer", {getuid()});
  guard.Permit(kAppend, "writer");
  EchoUidService service(&guard);
  auto server =
      UdsServer::Start({socket_path_, 0660, &guard, false}, {&service});
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = v1::AuditAppend::NewStub(CreateUdsChannel(socket_path_));
  auto call = [&stub] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(5));
    v1::AppendResponse response;
    return stub->Append(&context, v1::AppendRequest(), &response);
  };
  ASSERT_TRUE(call().ok());
  int fd = -1;
  ASSERT_TRUE(absl::SimpleAtoi(service.last_peer().substr(3), &fd));
  PeerRegistry::Instance().Forget(fd);
  grpc::Status refused = call();  // Same channel, same connection.
  EXPECT_EQ(service.last_peer(), absl::StrCat("fd:", fd));
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(RefusalOf(FromGrpcStatus(refused)), Refusal::kPeerUnverified);
  EXPECT_NE(refused.error_message().find("no credentials for this connection"),
            std::string::npos)
      << refused.error_message();
}

}  // namespace
}  // namespace latchkey
