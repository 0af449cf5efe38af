// peer_probe SOCKET UID: drops to UID (keeping gid 0 so the 0660 socket is
// reachable) and calls BrokerAdmin.ListSessions. Exits with the gRPC status
// code, so a test can see that the daemon refused it by uid.
#include <grp.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "common/uds_server.h"
#include "proto/broker.grpc.pb.h"

int main(int argc, char** argv) {
  if (argc != 3) return 100;
  uid_t uid = static_cast<uid_t>(std::atoi(argv[2]));
  gid_t groups[] = {0};
  if (setgroups(1, groups) != 0 || setgid(0) != 0 || setuid(uid) != 0) {
    return 101;
  }
  auto stub = latchkey::v1::BrokerAdmin::NewStub(
      latchkey::CreateUdsChannel(argv[1]));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  latchkey::v1::ListSessionsResponse response;
  grpc::Status status =
      stub->ListSessions(&context, latchkey::v1::ListSessionsRequest(), &response);
  std::fprintf(stderr, "peer_probe: %d %s\n", status.error_code(),
               status.error_message().c_str());
  return status.error_code();
}
