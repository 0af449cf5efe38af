#include "mcp_adapter/protocol_version.h"

namespace latchkey::mcp {

std::string NegotiateVersion(absl::string_view requested) {
  for (absl::string_view version : kSupportedVersions) {
    if (version == requested) return std::string(version);
  }
  return std::string(kSupportedVersions.front());
}

// Revisions are dates, so string order is release order.
bool HasStructuredContent(absl::string_view version) {
  return version >= "2025-06-18";
}

bool HasToolAnnotations(absl::string_view version) {
  return version >= "2025-03-26";
}

bool HasProgressMessage(absl::string_view version) {
  return version >= "2025-03-26";
}

}  // namespace latchkey::mcp
