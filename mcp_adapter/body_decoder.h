// DecodeBody turns an upstream response body into what a model reads:
// parsed JSON when the response says it is JSON and it parses, text when
// it is UTF-8, base64 otherwise.
#ifndef LATCHKEY_MCP_ADAPTER_BODY_DECODER_H_
#define LATCHKEY_MCP_ADAPTER_BODY_DECODER_H_

#include <string>

#include "absl/strings/string_view.h"
#include "mcp_adapter/json_util.h"
#include "proto/common.pb.h"

namespace latchkey::mcp {

struct DecodedBody {
  // encoding is "json", "text" or "base64".
  std::string encoding;
  // value is the parsed JSON value, or a string (text or base64).
  OJson value;
  // text is the body as a model should read it in a text content item.
  std::string text;
};

// IsJsonMediaType is true for application/json and any */*+json type, with
// or without parameters, case-insensitively.
bool IsJsonMediaType(absl::string_view content_type);

// HeaderValue returns the first header called `name` (any case), or "".
std::string HeaderValue(const v1::HttpResponse& response,
                        absl::string_view name);

DecodedBody DecodeBody(const v1::HttpResponse& response);

}  // namespace latchkey::mcp

#endif  // LATCHKEY_MCP_ADAPTER_BODY_DECODER_H_
