// Structured logging: one JSON object per line on stderr, one line per
// event. Never pass secret material to these functions; the vault's
// secrets live in SecureBuffer, which has no implicit string conversion.
#ifndef LATCHKEY_COMMON_LOG_H_
#define LATCHKEY_COMMON_LOG_H_

#include <initializer_list>
#include <string>
#include "absl/strings/string_view.h"
#include <utility>

namespace latchkey {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// SetLogComponent names the daemon in every line ("vault", "broker", ...).
void SetLogComponent(absl::string_view component);

// Log writes {"ts":...,"level":...,"component":...,"event":event,k:v,...}.
// Example: Log(LogLevel::kInfo, "listening", {{"socket", path}});
void Log(LogLevel level, absl::string_view event,
         std::initializer_list<std::pair<absl::string_view, std::string>>
             fields = {});

inline void LogInfo(
    absl::string_view event,
    std::initializer_list<std::pair<absl::string_view, std::string>> fields =
        {}) {
  Log(LogLevel::kInfo, event, fields);
}
inline void LogWarning(
    absl::string_view event,
    std::initializer_list<std::pair<absl::string_view, std::string>> fields =
        {}) {
  Log(LogLevel::kWarning, event, fields);
}
inline void LogError(
    absl::string_view event,
    std::initializer_list<std::pair<absl::string_view, std::string>> fields =
        {}) {
  Log(LogLevel::kError, event, fields);
}

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_LOG_H_
