// Small JSON helpers shared by the MCP server pieces: bounded parsing (no
// deeply nested input reaches a recursive algorithm) and one-line output.
#ifndef LATCHKEY_MCP_ADAPTER_JSON_UTIL_H_
#define LATCHKEY_MCP_ADAPTER_JSON_UTIL_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace latchkey::mcp {

using Json = nlohmann::json;           // Parsed input.
using OJson = nlohmann::ordered_json;  // Output, keys in insertion order.

// Deepest nesting accepted in a JSON-RPC message from the client.
inline constexpr int kMaxMessageDepth = 64;
// Deepest nesting of an upstream JSON body that is returned parsed; deeper
// bodies are returned as text.
inline constexpr int kMaxBodyDepth = 128;

// NestingWithin is true when `text` never nests arrays/objects deeper than
// `max_depth` (brackets inside strings do not count). It does not
// validate the JSON.
bool NestingWithin(absl::string_view text, int max_depth);

// ParseBounded parses `text` as one JSON value, or returns nullopt when it
// is not valid JSON (including invalid UTF-8) or nests deeper than
// `max_depth`.
std::optional<Json> ParseBounded(absl::string_view text, int max_depth);
std::optional<OJson> ParseBoundedOrdered(absl::string_view text, int max_depth);

// DumpLine serializes `value` as one line (no newline inside: control
// characters in strings are escaped), replacing invalid UTF-8 with U+FFFD.
std::string DumpLine(const OJson& value);

// IsValidUtf8 checks `text` for well-formed UTF-8 (no overlongs, no
// surrogates, nothing above U+10FFFF).
bool IsValidUtf8(absl::string_view text);

// TruncateUtf8 cuts `text` to at most `max_bytes`, never inside a UTF-8
// sequence, and appends "..." when it cut.
std::string TruncateUtf8(absl::string_view text, size_t max_bytes);

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_JSON_UTIL_H_
