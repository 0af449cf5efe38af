// Leak scanning: the secret's encoded forms, searched in text (logs,
// outputs) and in the whole readable memory of a live process.
#ifndef LATCHKEY_TESTS_LEAK_SCAN_H_
#define LATCHKEY_TESTS_LEAK_SCAN_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace latchkey::testing {

// SecretForms: raw, base64, base64url (unpadded), hex, upper-case hex.
std::vector<std::string> SecretForms(const std::string& secret);

// FindForms returns the forms that occur in `text`.
std::vector<std::string> FindForms(const std::string& text,
                                   const std::vector<std::string>& forms);

// ScanProcessMemory reads every readable mapping of `pid` through
// /proc/PID/mem and returns the forms found (empty: clean). It also
// reports how many bytes it read, to show the scan was not vacuous.
absl::StatusOr<std::vector<std::string>> ScanProcessMemory(
    pid_t pid, const std::vector<std::string>& forms, size_t* bytes_read);

}  // namespace latchkey::testing

#endif  // LATCHKEY_TESTS_LEAK_SCAN_H_
