#include "common/peer_credentials.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/refusal.h"
#include "gtest/gtest.h"

namespace latchkey {
namespace {

std::string PeerName(int fd) { return absl::StrCat("fd:", fd); }

// Pair is a connected pair of Unix sockets; first() plays the accepted end.
class Pair {
 public:
  Pair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0); }
  ~Pair() { Close(); }
  int first() const { return fds_[0]; }
  void Close() {
    for (int& fd : fds_) {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
  }

 private:
  int fds_[2] = {-1, -1};
};

void ExpectUnverified(const absl::StatusOr<PeerCredentials>& found) {
  ASSERT_FALSE(found.ok()) << "attributed to uid " << found->uid;
  EXPECT_EQ(found.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(RefusalOf(found.status()), Refusal::kPeerUnverified);
}

TEST(PeerRegistryTest, LiveConnectionIsFound) {
  PeerRegistry registry;
  Pair pair;
  ASSERT_TRUE(registry.Record(pair.first(), {11, 1001, 2001}).ok());
  absl::StatusOr<PeerCredentials> found =
      registry.Lookup(PeerName(pair.first()));
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->pid, 11);
  EXPECT_EQ(found->uid, 1001u);
  EXPECT_EQ(found->gid, 2001u);
}

TEST(PeerRegistryTest, NumberReusedByAnotherSocketIsNotAttributed) {
  PeerRegistry registry;
  Pair old_connection;
  int number = old_connection.first();
  ASSERT_TRUE(registry.Record(number, {11, 1001, 1001}).ok());
  old_connection.Close();
  // The lowest free number is handed out next: the one just closed.
  Pair new_connection;
  ASSERT_EQ(new_connection.first(), number);
  ExpectUnverified(registry.Lookup(PeerName(number)));
  EXPECT_EQ(registry.size(), 0u) << "the stale entry was not erased";
}

TEST(PeerRegistryTest, NumberReusedByAFileOrClosedIsNotAttributed) {
  PeerRegistry registry;
  Pair old_connection;
  int number = old_connection.first();
  ASSERT_TRUE(registry.Record(number, {11, 1001, 1001}).ok());
  old_connection.Close();
  ExpectUnverified(registry.Lookup(PeerName(number)));  // Closed.
  EXPECT_FALSE(registry.Record(number, {11, 1001, 1001}).ok());
  Pair again;
  ASSERT_EQ(again.first(), number);
  ASSERT_TRUE(registry.Record(number, {11, 1001, 1001}).ok());
  again.Close();
  int file = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_EQ(file, number);
  ExpectUnverified(registry.Lookup(PeerName(number)));
  ::close(file);
}

TEST(PeerRegistryTest, ReacceptedNumberCarriesTheNewCredentials) {
  PeerRegistry registry;
  Pair old_connection;
  int number = old_connection.first();
  ASSERT_TRUE(registry.Record(number, {11, 1001, 1001}).ok());
  old_connection.Close();
  Pair new_connection;
  ASSERT_EQ(new_connection.first(), number);
  ASSERT_TRUE(registry.Record(number, {22, 2002, 2002}).ok());
  absl::StatusOr<PeerCredentials> found = registry.Lookup(PeerName(number));
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->uid, 2002u);
  EXPECT_EQ(found->pid, 22);
}

TEST(PeerRegistryTest, PeersNotAcceptedByUsAreRefused) {
  PeerRegistry registry;
  Pair pair;  // Open, but never recorded.
  for (const std::string& peer :
       {PeerName(pair.first()), std::string("unix:/run/x.sock"),
        std::string("ipv4:127.0.0.1:80"), std::string("fd:"),
        std::string("fd:-1"), std::string("fd:12x")}) {
    SCOPED_TRACE(peer);
    ExpectUnverified(registry.Lookup(peer));
  }
}

TEST(PeerRegistryTest, ClosedConnectionsAreSwept) {
  PeerRegistry registry;
  std::vector<std::unique_ptr<Pair>> pairs;
  for (int i = 0; i < 200; ++i) {
    pairs.push_back(std::make_unique<Pair>());
    ASSERT_TRUE(registry.Record(pairs.back()->first(), {1, 1, 1}).ok());
  }
  EXPECT_EQ(registry.size(), 200u);  // Sweeps on the way found all live.
  for (int i = 0; i < 150; ++i) pairs[i]->Close();
  registry.Sweep();
  EXPECT_EQ(registry.size(), 50u);
  for (int i = 150; i < 200; ++i) {
    EXPECT_TRUE(registry.Lookup(PeerName(pairs[i]->first())).ok());
  }
  // Short-lived connections reuse numbers (overwriting) or are swept as
  // the table grows: it stays bounded by twice the live count.
  for (int i = 0; i < 1000; ++i) {
    Pair burst[3];
    for (Pair& pair : burst) {
      ASSERT_TRUE(registry.Record(pair.first(), {1, 1, 1}).ok());
    }
  }
  EXPECT_LE(registry.size(), 2 * 50u + 3);
}

TEST(PeerRegistryTest, ConcurrentRecordAndLookup) {
  // Run under --config=tsan to check the locking.
  PeerRegistry registry;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&registry, &wrong, t] {
      for (int i = 0; i < 500; ++i) {
        Pair pair;
        uid_t uid = 1000 + t;
        if (!registry.Record(pair.first(), {t, uid, uid}).ok()) ++wrong;
        absl::StatusOr<PeerCredentials> found =
            registry.Lookup(PeerName(pair.first()));
        if (!found.ok() || found->uid != uid) ++wrong;
        if (i % 50 == 0) registry.Sweep();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace latchkey
