// Process plumbing for a stdio server: stdout reserved for the protocol,
// termination signals delivered as a readable fd.
#ifndef LATCHKEY_MCP_ADAPTER_PROCESS_SETUP_H_
#define LATCHKEY_MCP_ADAPTER_PROCESS_SETUP_H_

#include "absl/status/statusor.h"

namespace latchkey::mcp {

// ReserveStdoutForProtocol moves the real stdout to a new close-on-exec fd
// (returned) and points fd 1 at stderr, so that nothing a library prints
// can corrupt the protocol stream.
absl::StatusOr<int> ReserveStdoutForProtocol();

// OpenTerminationSignalFd blocks SIGTERM, SIGINT and SIGHUP, ignores
// SIGPIPE (common/termination_signal.h), and returns a signalfd that is
// readable once SIGTERM or SIGINT arrives. Call it before any thread
// starts, so that every thread inherits the mask.
absl::StatusOr<int> OpenTerminationSignalFd();

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_PROCESS_SETUP_H_
