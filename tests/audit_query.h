// QueryAuditRecords reads the whole audit log through the sink's admin
// service, as `latchkeyctl audit query` does, for end-to-end tests. Records
// the sink could not parse back would be missing from the answer.
#ifndef LATCHKEY_TESTS_AUDIT_QUERY_H_
#define LATCHKEY_TESTS_AUDIT_QUERY_H_

#include <string>
#include <vector>

#include "proto/audit.pb.h"

namespace latchkey::testing {

// QueryAuditRecords pages through every record, in sequence order (at most
// 50 pages of 1000); a failed call is a test failure and ends the paging.
std::vector<v1::AuditRecord> QueryAuditRecords(const std::string& audit_socket);

}  // namespace latchkey::testing

#endif  // LATCHKEY_TESTS_AUDIT_QUERY_H_
