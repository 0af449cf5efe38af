#include "common/in_flight_calls.h"

#include "absl/time/clock.h"

namespace latchkey {

// One interceptor exists for the lifetime of each call.
class CallCountingInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit CallCountingInterceptor(InFlightCalls* calls) : calls_(calls) {
    calls_->count_.fetch_add(1);
  }
  ~CallCountingInterceptor() override { calls_->count_.fetch_sub(1); }
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    methods->Proceed();
  }

 private:
  InFlightCalls* calls_;
};

namespace {

class CountingFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CountingFactory(InFlightCalls* calls) : calls_(calls) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo*) override {
    return new CallCountingInterceptor(calls_);
  }

 private:
  InFlightCalls* calls_;
};

}  // namespace

bool InFlightCalls::WaitForIdle(absl::Duration timeout) const {
  absl::Time deadline = absl::Now() + timeout;
  while (count_.load() > 0) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
InFlightCalls::Factory() {
  return std::make_unique<CountingFactory>(this);
}

}  // namespace latchkey
