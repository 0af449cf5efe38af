#include "tests/audit_query.h"

#include <chrono>

#include "common/uds_server.h"
#include "gtest/gtest.h"
#include "proto/audit.grpc.pb.h"

namespace latchkey::testing {

std::vector<v1::AuditRecord> QueryAuditRecords(
    const std::string& audit_socket) {
  auto admin = v1::AuditAdmin::NewStub(CreateUdsChannel(audit_socket));
  std::vector<v1::AuditRecord> records;
  uint64_t after = 0;
  for (int page = 0; page < 50; ++page) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(15));
    v1::QueryRequest query;
    query.set_after_sequence(after);
    query.set_limit(1000);
    v1::QueryResponse response;
    grpc::Status rpc = admin->Query(&context, query, &response);
    EXPECT_TRUE(rpc.ok()) << rpc.error_message();
    if (!rpc.ok()) break;
    for (const v1::AuditRecord& record : response.records()) {
      records.push_back(record);
      after = record.sequence();
    }
    if (response.next_after_sequence() == 0 || response.records_size() == 0) {
      break;
    }
    after = response.next_after_sequence();
  }
  return records;
}

}  // namespace latchkey::testing
