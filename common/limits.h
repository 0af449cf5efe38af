// Every size and count limit Latchkey enforces, in one place, so that a
// reviewer can see them together (after ssh-agent's AGENT_MAX_LEN).
#ifndef LATCHKEY_COMMON_LIMITS_H_
#define LATCHKEY_COMMON_LIMITS_H_

#include <cstddef>
#include <cstdint>

namespace latchkey {

// Largest gRPC message any daemon accepts or sends (bodies + overhead).
inline constexpr int kMaxGrpcMessageBytes = 12 * 1024 * 1024;
// Largest request body an agent may send upstream.
inline constexpr size_t kMaxRequestBodyBytes = 8 * 1024 * 1024;
// Default and hard cap of an upstream response body.
inline constexpr uint64_t kDefaultMaxResponseBytes = 10 * 1024 * 1024;
// Default upstream timeouts.
inline constexpr uint32_t kDefaultConnectTimeoutMs = 10'000;
inline constexpr uint32_t kDefaultTotalTimeoutMs = 60'000;
// Request shape limits.
inline constexpr size_t kMaxPathBytes = 4096;
inline constexpr size_t kMaxHeaderCount = 64;
inline constexpr size_t kMaxHeaderNameBytes = 256;
inline constexpr size_t kMaxHeaderValueBytes = 8192;
inline constexpr size_t kMaxQueryParams = 128;
inline constexpr size_t kMaxQueryBytes = 8192;
// Longest HTTP method token a request or a policy rule may name (the
// longest registered method, UPDATEREDIRECTREF, has 17 bytes).
inline constexpr size_t kMaxMethodBytes = 32;
// Most rules one capability may have: Decide walks them linearly.
inline constexpr size_t kMaxRulesPerCapability = 256;
// A secret value (token, key) stored in the vault.
inline constexpr size_t kMaxSecretBytes = 64 * 1024;
inline constexpr size_t kMaxIdBytes = 128;
// Agent-supplied reason text recorded in the audit log.
inline constexpr size_t kMaxReasonBytes = 1024;
// One string field of an audit event (agent, path, reason, ...).
inline constexpr size_t kMaxAuditFieldBytes = 4096;
// One line of the audit log; larger lines are unparseable by definition.
// A valid record is far smaller: 10 capped fields, even fully \u-escaped.
inline constexpr size_t kMaxAuditLineBytes = 1024 * 1024;
// The audit log rotates its file before it would grow beyond this.
inline constexpr uint64_t kDefaultAuditMaxFileBytes = 64ull * 1024 * 1024;
// The sink signs a checkpoint at least every this many records or seconds.
inline constexpr uint64_t kDefaultAuditCheckpointEveryRecords = 1000;
inline constexpr int64_t kDefaultAuditCheckpointIntervalSeconds = 60;
// Query page size: default and maximum number of records per answer.
inline constexpr uint32_t kDefaultAuditQueryLimit = 100;
inline constexpr uint32_t kMaxAuditQueryLimit = 1000;
// Events in one AuditAppend.AppendBatch call (bounds the sink's memory per
// call and the client's wait behind a large batch).
inline constexpr size_t kMaxAuditBatchEvents = 256;
// Expected heads (SEQ:HEAD known from outside the host) in one Verify.
inline constexpr size_t kMaxAuditExpectedHeads = 64;
// Approvals: pending ones per agent (more are refused with
// APPROVAL_QUEUE_FULL), all kept in memory and the store, and how long a
// pending one waits by default and at most.
inline constexpr size_t kMaxPendingApprovalsPerAgent = 16;
inline constexpr size_t kMaxApprovalsKept = 10'000;
inline constexpr int64_t kDefaultApprovalTimeoutSeconds = 600;
inline constexpr int64_t kMaxApprovalTimeoutSeconds = 24 * 3600;
// One MCP JSON-RPC line on stdin.
inline constexpr size_t kMaxMcpLineBytes = 16 * 1024 * 1024;
// A secret's extra PEM CA bundle (a private CA and its intermediates).
inline constexpr size_t kMaxCaBundleBytes = 256 * 1024;
// A derived token (OAuth2 access token, GitHub installation token) or a
// token endpoint's answer.
inline constexpr size_t kMaxDerivedTokenBytes = 16 * 1024;
inline constexpr size_t kMaxTokenResponseBytes = 64 * 1024;

// Streaming (ExecuteStream, the gateway): bodies travel in chunks of at
// most kStreamChunkBytes; a capability may allow request and response
// bodies up to kMaxStreamedBodyBytes on that path.
inline constexpr size_t kStreamChunkBytes = 256 * 1024;
inline constexpr uint64_t kMaxStreamedBodyBytes = 4ull * 1024 * 1024 * 1024;

// Backups: a daemon's Backup stream sends its files in chunks of this size.
inline constexpr size_t kBackupChunkBytes = 1024 * 1024;

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_LIMITS_H_
