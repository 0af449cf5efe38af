// HardenVaultProcess makes the vault's memory unreadable to other
// processes and to core dumps before any secret is loaded:
// PR_SET_DUMPABLE=0 (no core dumps, no ptrace or /proc/PID/mem by non-root
// peers), RLIMIT_CORE=0, and OpenSSL's secure heap (mlock'ed,
// MADV_DONTDUMP) for every SecureBuffer.
#ifndef LATCHKEY_VAULT_PROCESS_HARDENING_H_
#define LATCHKEY_VAULT_PROCESS_HARDENING_H_

#include "absl/status/status.h"

namespace latchkey::vault {

// Secure heap size: keys and in-flight secrets are small.
inline constexpr size_t kSecureHeapBytes = 4 * 1024 * 1024;

absl::Status HardenVaultProcess();

}  // namespace latchkey::vault

#endif  // LATCHKEY_VAULT_PROCESS_HARDENING_H_
