// InFlightCalls counts the RPCs a server is running, through a gRPC server
// interceptor created for every call. UdsServer::Shutdown uses it to wait
// for calls in progress and no longer: gRPC's own Shutdown(deadline) also
// waits out idle client connections (the broker keeps one open to the
// vault and the audit sink), which made every stop take the full grace.
#ifndef LATCHKEY_COMMON_IN_FLIGHT_CALLS_H_
#define LATCHKEY_COMMON_IN_FLIGHT_CALLS_H_

#include <atomic>
#include <memory>

#include <grpcpp/support/server_interceptor.h>

#include "absl/time/time.h"

namespace latchkey {

class InFlightCalls {
 public:
  int count() const { return count_.load(); }
  // WaitForIdle returns true once no call is running, false after
  // `timeout`.
  bool WaitForIdle(absl::Duration timeout) const;
  // Factory returns an interceptor factory that counts calls here; the
  // counter must outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  Factory();

 private:
  friend class CallCountingInterceptor;
  std::atomic<int> count_{0};
};

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_IN_FLIGHT_CALLS_H_
