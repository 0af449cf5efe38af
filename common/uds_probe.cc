// uds_probe SOCKET UID: calls AuditAppend.Append on SOCKET (as UID, keeping
// gid 0 so a 0660 socket stays reachable; "-" keeps the current user) and
// prints "<grpc code> <sequence> <own pid> <refusal tag or ->". Used by
// uds_server_test to connect from processes with their own credentials.
#include <grp.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/grpc_status.h"
#include "common/refusal.h"
#include "common/uds_server.h"
#include "proto/audit.grpc.pb.h"

int main(int argc, char** argv) {
  if (argc != 3) return 100;
  if (std::strcmp(argv[2], "-") != 0) {
    uid_t uid = static_cast<uid_t>(std::atoi(argv[2]));
    gid_t groups[] = {0};
    if (setgroups(1, groups) != 0 || setgid(0) != 0 || setuid(uid) != 0) {
      return 101;
    }
  }
  auto stub =
      latchkey::v1::AuditAppend::NewStub(latchkey::CreateUdsChannel(argv[1]));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  latchkey::v1::AppendResponse response;
  grpc::Status status =
      stub->Append(&context, latchkey::v1::AppendRequest(), &response);
  absl::string_view tag = latchkey::RefusalTag(
      latchkey::RefusalOf(latchkey::FromGrpcStatus(status)));
  std::printf("%d %llu %d %s\n", status.error_code(),
              static_cast<unsigned long long>(response.sequence()),
              static_cast<int>(getpid()),
              tag.empty() ? "-" : std::string(tag).c_str());
  return 0;
}
