// CallWorkers runs each deferred MCP call (a tools/call waiting on the
// broker) on a thread of its own, as before, but keeps finished threads
// warm for the next call instead of creating and joining one per call:
// the profile in docs/performance.md found thread creation and joining
// 40-48 % of the adapter's CPU. Calls never wait for each other: with no
// idle thread a new one is started.
#ifndef LATCHKEY_MCP_ADAPTER_CALL_WORKERS_H_
#define LATCHKEY_MCP_ADAPTER_CALL_WORKERS_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace latchkey::mcp {

class CallWorkers {
 public:
  // Up to `max_idle` threads wait for work; one idle longer than
  // `idle_timeout` beyond that number ends.
  explicit CallWorkers(
      size_t max_idle = 8,
      std::chrono::milliseconds idle_timeout = std::chrono::seconds(30));
  // Waits for every call in progress, then ends every thread.
  ~CallWorkers();
  CallWorkers(const CallWorkers&) = delete;
  CallWorkers& operator=(const CallWorkers&) = delete;

  // Run starts `work` now, on an idle thread or a new one.
  void Run(std::function<void()> work);
  // WaitIdle returns once no call is in progress.
  void WaitIdle();
  // Busy is how many calls are in progress.
  size_t Busy() const;
  // Threads is how many threads exist (busy or idle), for tests.
  size_t Threads() const;

 private:
  struct Worker {
    std::condition_variable wake;
    std::function<void()> job;  // guarded by mu_
    bool exited = false;        // guarded by mu_
    std::thread thread;
  };
  void Loop(Worker* self);
  void JoinExitedLocked(std::vector<std::thread>* out);

  const size_t max_idle_;
  const std::chrono::milliseconds idle_timeout_;
  mutable std::mutex mu_;
  std::condition_variable all_idle_;
  std::list<std::unique_ptr<Worker>> workers_;  // guarded by mu_
  std::vector<Worker*> idle_;                   // guarded by mu_
  size_t busy_ = 0;                             // guarded by mu_
  bool stopping_ = false;                       // guarded by mu_
};

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_CALL_WORKERS_H_
