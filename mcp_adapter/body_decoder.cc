#include "mcp_adapter/body_decoder.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace latchkey::mcp {

bool IsJsonMediaType(absl::string_view content_type) {
  absl::string_view type = content_type.substr(0, content_type.find(';'));
  type = absl::StripAsciiWhitespace(type);
  return absl::EqualsIgnoreCase(type, "application/json") ||
         absl::EndsWithIgnoreCase(type, "+json");
}

std::string HeaderValue(const v1::HttpResponse& response,
                        absl::string_view name) {
  for (const v1::Header& header : response.headers()) {
    if (absl::EqualsIgnoreCase(header.name(), name)) return header.value();
  }
  return "";
}

DecodedBody DecodeBody(const v1::HttpResponse& response) {
  const std::string& body = response.body();
  DecodedBody decoded;
  if (IsJsonMediaType(HeaderValue(response, "content-type"))) {
    std::optional<OJson> parsed = ParseBoundedOrdered(body, kMaxBodyDepth);
    if (parsed.has_value()) {
      decoded.encoding = "json";
      decoded.value = std::move(*parsed);
      decoded.text = body;
      return decoded;
    }
  }
  if (IsValidUtf8(body)) {
    decoded.encoding = "text";
    decoded.value = body;
    decoded.text = body;
    return decoded;
  }
  decoded.encoding = "base64";
  decoded.value = absl::Base64Escape(body);
  decoded.text =
      absl::StrCat("[binary body, ", body.size(), " bytes, base64-encoded]\n",
                   decoded.value.get<std::string>());
  return decoded;
}

}  // namespace latchkey::mcp
