#include "mcp_adapter/call_workers.h"

#include <algorithm>
#include <utility>

namespace latchkey::mcp {

CallWorkers::CallWorkers(size_t max_idle,
                         std::chrono::milliseconds idle_timeout)
    : max_idle_(max_idle), idle_timeout_(idle_timeout) {}

CallWorkers::~CallWorkers() {
  std::vector<std::thread> threads;
  {
    std::unique_lock<std::mutex> lock(mu_);
    all_idle_.wait(lock, [this] { return busy_ == 0; });
    stopping_ = true;
    for (auto& worker : workers_) {
      worker->wake.notify_one();
      threads.push_back(std::move(worker->thread));
    }
  }
  for (std::thread& thread : threads) thread.join();
}

void CallWorkers::JoinExitedLocked(std::vector<std::thread>* out) {
  for (auto it = workers_.begin(); it != workers_.end();) {
    if ((*it)->exited) {
      out->push_back(std::move((*it)->thread));
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
}

void CallWorkers::Run(std::function<void()> work) {
  std::vector<std::thread> exited;
  {
    std::lock_guard<std::mutex> lock(mu_);
    JoinExitedLocked(&exited);
    ++busy_;
    if (!idle_.empty()) {
      Worker* worker = idle_.back();
      idle_.pop_back();
      worker->job = std::move(work);
      worker->wake.notify_one();
    } else {
      workers_.push_back(std::make_unique<Worker>());
      Worker* worker = workers_.back().get();
      worker->job = std::move(work);
      worker->thread = std::thread([this, worker] { Loop(worker); });
    }
  }
  // Threads that ended have returned from Loop: joining them is quick.
  for (std::thread& thread : exited) thread.join();
}

void CallWorkers::Loop(Worker* self) {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (self->job) {
      std::function<void()> job = std::move(self->job);
      self->job = nullptr;
      lock.unlock();
      job();
      job = nullptr;  // the call's captures go before the thread idles.
      lock.lock();
      if (--busy_ == 0) all_idle_.notify_all();
      idle_.push_back(self);
    }
    if (stopping_) return;
    const bool woken = self->wake.wait_for(lock, idle_timeout_, [&] {
      return static_cast<bool>(self->job) || stopping_;
    });
    if (!woken && idle_.size() > max_idle_) {
      // Idle too long while enough others wait: end, unless a call was
      // handed to this thread in the meantime (it is then not in idle_).
      auto at = std::find(idle_.begin(), idle_.end(), self);
      if (at != idle_.end()) {
        idle_.erase(at);
        self->exited = true;
        return;
      }
    }
  }
}

void CallWorkers::WaitIdle() {
  std::unique_lock<std::mutex> lock(mu_);
  all_idle_.wait(lock, [this] { return busy_ == 0; });
}

size_t CallWorkers::Busy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return busy_;
}

size_t CallWorkers::Threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return workers_.size();
}

}  // namespace latchkey::mcp
