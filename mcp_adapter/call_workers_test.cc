#include "mcp_adapter/call_workers.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "gtest/gtest.h"

namespace latchkey::mcp {
namespace {

using std::chrono::milliseconds;

// A gate the test opens: calls block on it, so the test controls overlap.
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(20), [this] { return open_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

bool WaitFor(const std::function<bool()>& done) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

TEST(CallWorkersTest, CallsNeverWaitForEachOther) {
  CallWorkers workers;
  Gate gate;
  std::atomic<int> started{0};
  for (int i = 0; i < 16; ++i) {
    workers.Run([&] {
      ++started;
      gate.Wait();
    });
  }
  // All 16 run at once although none has finished.
  EXPECT_TRUE(WaitFor([&] { return started.load() == 16; }));
  EXPECT_EQ(workers.Busy(), 16u);
  gate.Open();
  workers.WaitIdle();
  EXPECT_EQ(workers.Busy(), 0u);
}

TEST(CallWorkersTest, SequentialCallsReuseOneThread) {
  CallWorkers workers;
  std::mutex mu;
  std::set<std::thread::id> ids;
  for (int i = 0; i < 200; ++i) {
    workers.Run([&] {
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    });
    workers.WaitIdle();
  }
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(workers.Threads(), 1u);
}

TEST(CallWorkersTest, IdleThreadsBeyondTheLimitEnd) {
  CallWorkers workers(/*max_idle=*/2, milliseconds(50));
  Gate gate;
  for (int i = 0; i < 6; ++i) workers.Run([&] { gate.Wait(); });
  EXPECT_TRUE(WaitFor([&] { return workers.Busy() == 6; }));
  gate.Open();
  workers.WaitIdle();
  // Ended threads are joined when the next call comes.
  EXPECT_TRUE(WaitFor([&] {
    workers.Run([] {});
    workers.WaitIdle();
    return workers.Threads() <= 3;
  }));
}

TEST(CallWorkersTest, DestructorWaitsForCallsInProgress) {
  std::atomic<bool> finished{false};
  {
    CallWorkers workers;
    workers.Run([&] {
      std::this_thread::sleep_for(milliseconds(100));
      finished = true;
    });
  }
  EXPECT_TRUE(finished.load());
}

}  // namespace
}  // namespace latchkey::mcp
