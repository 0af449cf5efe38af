#include "common/audit_recorder.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

#include "common/grpc_status.h"
#include "common/limits.h"
#include "common/recordable_event.h"
#include "common/uds_server.h"
#include "proto/audit.grpc.pb.h"

namespace latchkey {
namespace {

// How long Reachable() waits for a disconnected audit channel.
constexpr int kConnectWaitMs = 1000;

std::chrono::system_clock::time_point Deadline(absl::Duration timeout) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout);
}

// At most this many AppendBatch calls are in flight per recorder; more
// concurrent events wait and go out together in the next batch. One is
// best: while it travels and the sink syncs it, the next batch gathers
// everything that arrives (audit_bench, 64 writers on one connection:
// about 21k appends/s with one in flight, 12k with four, whose smaller
// batches cost more round trips and split the sink's group commits).
constexpr int kMaxInFlight = 1;

class GrpcAuditRecorder final : public AuditRecorder {
 public:
  GrpcAuditRecorder(const std::string& socket_path, absl::Duration timeout)
      : channel_(CreateUdsChannel(socket_path)),
        stub_(v1::AuditAppend::NewStub(channel_)),
        timeout_(timeout) {}

  // Record queues the event and waits for it to be durable. Concurrent
  // callers share round trips: up to kMaxInFlight AppendBatch calls run at
  // once, and whoever finds a free slot sends everything queued so far
  // (up to kMaxAuditBatchEvents), its own event included. A lone caller
  // sends a batch of one at once, so batching never adds latency.
  absl::Status Record(const v1::AuditEvent& event) override {
    Waiter me;
    // No field an agent controls may make the sink refuse the record.
    me.event = event;
    MakeRecordable(&me.event);
    me.queued = true;
    std::unique_lock<std::mutex> lock(mu_);
    queue_.push_back(&me);
    while (!me.done) {
      // Wait while every slot is busy, or while another caller's batch
      // carries this event.
      if (in_flight_ >= kMaxInFlight || !me.queued) {
        me.wake.wait(lock);
        continue;
      }
      std::vector<Waiter*> batch;
      const size_t take = std::min(queue_.size(), kMaxAuditBatchEvents);
      batch.assign(queue_.begin(), queue_.begin() + take);
      for (Waiter* waiter : batch) waiter->queued = false;
      queue_.erase(queue_.begin(), queue_.begin() + take);
      ++in_flight_;
      lock.unlock();
      Send(batch);
      lock.lock();
      --in_flight_;
      for (Waiter* waiter : batch) {
        waiter->done = true;
        if (waiter != &me) waiter->wake.notify_one();
      }
      // A slot is free: let the oldest queued caller send the next batch.
      if (!queue_.empty()) queue_.front()->wake.notify_one();
    }
    return me.result;
  }

  bool Reachable() override {
    if (channel_->GetState(/*try_to_connect=*/true) == GRPC_CHANNEL_READY) {
      return true;
    }
    // Not connected (first use, or the sink restarted): give it a short
    // moment to connect rather than executing upstream and only then
    // finding that the decision cannot be recorded.
    return channel_->WaitForConnected(
        Deadline(std::min(timeout_, absl::Milliseconds(kConnectWaitMs))));
  }

 private:
  // One caller of Record, waiting for its event to be durable.
  struct Waiter {
    v1::AuditEvent event;
    absl::Status result;
    bool queued = false;  // Still in queue_, not yet in a batch.
    bool done = false;
    std::condition_variable wake;
  };

  // Send records the batch and sets each waiter's result. One bad event
  // must not cost the others their requests, so a batch the sink refused
  // (or could not parse) is retried one event at a time.
  void Send(const std::vector<Waiter*>& batch) {
    v1::AppendBatchRequest request;
    for (const Waiter* waiter : batch) *request.add_events() = waiter->event;
    absl::Status status = Call(request);
    if ((absl::IsInvalidArgument(status) || absl::IsInternal(status)) &&
        batch.size() > 1) {
      for (Waiter* waiter : batch) {
        v1::AppendBatchRequest single;
        *single.add_events() = waiter->event;
        waiter->result = Call(single);
      }
      return;
    }
    for (Waiter* waiter : batch) waiter->result = status;
  }

  absl::Status Call(const v1::AppendBatchRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(Deadline(timeout_));
    // Wait for a connection within the deadline rather than failing at
    // once while the channel reconnects after a sink restart.
    context.set_wait_for_ready(true);
    v1::AppendBatchResponse response;
    return FromGrpcStatus(stub_->AppendBatch(&context, request, &response));
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AuditAppend::Stub> stub_;
  absl::Duration timeout_;
  // std::mutex, not absl::Mutex: Debian's Abseil lacks TSan annotations.
  std::mutex mu_;
  std::deque<Waiter*> queue_;  // Guarded by mu_.
  int in_flight_ = 0;          // Guarded by mu_.
};

}  // namespace

std::unique_ptr<AuditRecorder> NewGrpcAuditRecorder(
    const std::string& socket_path, absl::Duration timeout) {
  return std::make_unique<GrpcAuditRecorder>(socket_path, timeout);
}

}  // namespace latchkey
