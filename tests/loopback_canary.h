// LoopbackCanary listens on one port on several loopback addresses
// (127.0.0.1, 127.0.0.2 and ::1 when available) and counts every TCP
// connection that reaches it. SSRF tests point refused requests at it: a
// non-zero count means a guard let a connection through.
#ifndef LATCHKEY_TESTS_LOOPBACK_CANARY_H_
#define LATCHKEY_TESTS_LOOPBACK_CANARY_H_

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace latchkey::testing {

class LoopbackCanary {
 public:
  // Start binds 127.0.0.1 on an ephemeral port, then the same port on the
  // other loopback addresses (skipping any that cannot be bound).
  static absl::StatusOr<std::unique_ptr<LoopbackCanary>> Start();
  ~LoopbackCanary();

  int port() const { return port_; }
  bool has_ipv6() const { return has_ipv6_; }
  // connections counts the connections accepted so far.
  int connections() const { return connections_.load(); }

 private:
  LoopbackCanary() = default;
  void Run();

  int port_ = 0;
  bool has_ipv6_ = false;
  std::vector<int> fds_;
  std::atomic<int> connections_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace latchkey::testing

#endif  // LATCHKEY_TESTS_LOOPBACK_CANARY_H_
