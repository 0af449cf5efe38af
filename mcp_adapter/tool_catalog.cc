#include "mcp_adapter/tool_catalog.h"

#include <string>

#include "mcp_adapter/protocol_version.h"

namespace latchkey::mcp {
namespace {

constexpr char kInstructions[] =
    "Latchkey is a credential broker: it lets you call real APIs (GitHub, "
    "Stripe, internal services) through named capabilities without ever "
    "seeing their keys, checks every request against an operator's policy "
    "and records it in an audit log. Call list_capabilities first to learn "
    "which capabilities, methods and paths you may use, then call execute; "
    "when a request is denied, follow the next_step in the result instead of "
    "retrying it or looking for the key another way.";

constexpr char kListCapabilitiesDescription[] =
    "List the APIs you may call through Latchkey. Each capability has a "
    "name (pass it to execute), a description, the upstream origin the "
    "requests go to, its rules (ALLOW or DENY, HTTP methods, a path pattern "
    "where * matches one path segment and ** any number; a matching DENY "
    "always wins) and, while you have a session, when it expires. Call this "
    "first, before execute, and again whenever execute says a capability "
    "is unknown. No credential is ever shown: Latchkey adds it itself.";

constexpr char kExecuteDescription[] =
    "Send one HTTP request to an upstream API through a Latchkey "
    "capability. Latchkey checks the request against the capability's "
    "rules, adds the credential itself, performs the call and returns the "
    "response: status, headers and body (parsed when the response is "
    "JSON). Use a capability, method and path that list_capabilities "
    "allows; `path` starts with / and is relative to the capability's "
    "origin; put query parameters in `query`, not in the path; give a short "
    "`reason`. Never send API keys, tokens, cookies or an Authorization "
    "header: you do not have them and do not need them. If the result says "
    "denied, read `code` and `next_step`: do not repeat the same request; "
    "choose an allowed method or path, wait before retrying when the code "
    "is RATE_LIMITED, or tell the user what an operator has to change.";

constexpr char kSessionStatusDescription[] =
    "Show your Latchkey session: the first 8 characters of its id, when it "
    "expires, the capabilities it covers and whether an operator revoked "
    "it. Opens a session if none is open. Use it when execute reports a "
    "session problem or before a long series of calls. A revoked session "
    "is not replaced: stop and tell the user.";

OJson StringSchema(const char* description) {
  return OJson{{"type", "string"}, {"description", description}};
}

OJson StringMapSchema(const char* description) {
  return OJson{{"type", "object"},
               {"description", description},
               {"additionalProperties", {{"type", "string"}}}};
}

OJson ListCapabilitiesInput() {
  return OJson{{"type", "object"},
               {"properties", OJson::object()},
               {"additionalProperties", false}};
}

OJson RuleSchema() {
  return OJson{
      {"type", "object"},
      {"properties",
       {{"effect",
         {{"type", "string"}, {"enum", {"ALLOW", "DENY", "UNSPECIFIED"}}}},
        {"methods",
         {{"type", "array"},
          {"items", {{"type", "string"}}},
          {"description", "HTTP methods; \"*\" means any."}}},
        {"path",
         StringSchema("Path pattern: * is one segment, ** any number.")}}},
      {"required", {"effect", "methods", "path"}}};
}

OJson ListCapabilitiesOutput() {
  OJson capability{
      {"type", "object"},
      {"properties",
       {{"name", StringSchema("Pass this to execute as `capability`.")},
        {"description", StringSchema("What the capability is for.")},
        {"origin", StringSchema("Upstream scheme://host:port.")},
        {"rules", {{"type", "array"}, {"items", RuleSchema()}}},
        {"session_expire_time",
         StringSchema("RFC 3339 time your session for it expires; absent "
                      "when you have no session.")}}},
      {"required", {"name", "description", "origin", "rules"}}};
  return OJson{{"type", "object"},
               {"properties",
                {{"capabilities", {{"type", "array"}, {"items", capability}}}}},
               {"required", {"capabilities"}}};
}

OJson ExecuteInput() {
  return OJson{
      {"type", "object"},
      {"properties",
       {{"capability",
         StringSchema("Capability name from list_capabilities, e.g. "
                      "\"github\".")},
        {"method", StringSchema("HTTP method, e.g. \"GET\" or \"POST\".")},
        {"path",
         {{"type", "string"},
          {"pattern", "^/"},
          {"description",
           "Request path on the capability's origin, starting with /, "
           "without query string, e.g. \"/repos/octo/hello/issues\"."}}},
        {"query", StringMapSchema("Query parameters, name to value (values "
                                  "are strings), e.g. {\"state\": "
                                  "\"open\"}.")},
        {"headers",
         StringMapSchema("Extra request headers, e.g. {\"Accept\": "
                         "\"application/json\"}. Never Authorization, "
                         "Cookie or Host.")},
        {"body", StringSchema("Request body as a string; serialize JSON and "
                              "set a Content-Type header.")},
        {"reason", StringSchema("One sentence on why you make this request; "
                                "recorded in the audit log and required by "
                                "some capabilities.")}}},
      {"required", {"capability", "method", "path"}},
      {"additionalProperties", false}};
}

OJson ExecuteOutput() {
  return OJson{
      {"type", "object"},
      {"properties",
       {{"denied",
         {{"type", "boolean"},
          {"description", "true when Latchkey refused the request."}}},
        {"status",
         {{"type", "integer"}, {"description", "Upstream HTTP status."}}},
        {"headers", StringMapSchema("Response headers, lower-case names.")},
        {"body",
         {{"description",
           "Response body: the parsed JSON value when body_encoding is "
           "\"json\", otherwise a string (text, or base64 when "
           "body_encoding is \"base64\")."}}},
        {"body_encoding",
         {{"type", "string"}, {"enum", {"json", "text", "base64"}}}},
        {"body_truncated",
         {{"type", "boolean"},
          {"description", "The body was cut at the size limit."}}},
        {"request_id",
         StringSchema("Identifies this decision in the audit log.")},
        {"rule", StringSchema("The rule that allowed or denied the request.")},
        {"code",
         StringSchema("Why it was denied, e.g. RULE_DENY, RATE_LIMITED, "
                      "SESSION_REVOKED.")},
        {"message", StringSchema("What happened, in one sentence.")},
        {"next_step", StringSchema("What to do about the denial.")},
        {"retry_after_seconds",
         {{"type", "number"},
          {"description", "For RATE_LIMITED: seconds to wait."}}}}},
      {"required", {"denied", "request_id"}},
      {"anyOf",
       {{{"required", {"status", "headers", "body", "body_truncated"}}},
        {{"required", {"code", "message", "next_step"}}}}}};
}

OJson SessionStatusOutput() {
  return OJson{
      {"type", "object"},
      {"properties",
       {{"session_id_prefix",
         StringSchema("First 8 characters of the session id.")},
        {"agent", StringSchema("The agent identity the session belongs to.")},
        {"expire_time", StringSchema("RFC 3339 expiry time.")},
        {"expires_in_seconds", {{"type", "integer"}}},
        {"capabilities", {{"type", "array"}, {"items", {{"type", "string"}}}}},
        {"revoked", {{"type", "boolean"}}}}},
      {"required", {"session_id_prefix", "capabilities", "revoked"}}};
}

OJson Tool(absl::string_view version, const char* name, const char* title,
           const char* description, OJson input, OJson output,
           OJson annotations) {
  OJson tool;
  tool["name"] = name;
  if (HasStructuredContent(version)) tool["title"] = title;
  tool["description"] = description;
  tool["inputSchema"] = std::move(input);
  if (HasStructuredContent(version)) tool["outputSchema"] = std::move(output);
  if (HasToolAnnotations(version)) {
    annotations["title"] = title;
    tool["annotations"] = std::move(annotations);
  }
  return tool;
}

}  // namespace

bool IsKnownTool(absl::string_view name) {
  return name == kListCapabilitiesTool || name == kExecuteTool ||
         name == kSessionStatusTool;
}

absl::string_view Instructions() { return kInstructions; }

OJson ToolList(absl::string_view version) {
  OJson read_only{{"readOnlyHint", true},
                  {"idempotentHint", true},
                  {"openWorldHint", false}};
  // execute may change the world upstream (POST, DELETE) when the policy
  // allows it.
  OJson execute_hints{{"readOnlyHint", false},
                      {"destructiveHint", true},
                      {"idempotentHint", false},
                      {"openWorldHint", true}};
  OJson tools = OJson::array();
  tools.push_back(Tool(version, "list_capabilities",
                       "List Latchkey capabilities",
                       kListCapabilitiesDescription, ListCapabilitiesInput(),
                       ListCapabilitiesOutput(), read_only));
  tools.push_back(Tool(version, "execute", "Call an API through Latchkey",
                       kExecuteDescription, ExecuteInput(), ExecuteOutput(),
                       execute_hints));
  tools.push_back(Tool(version, "session_status", "Latchkey session status",
                       kSessionStatusDescription, ListCapabilitiesInput(),
                       SessionStatusOutput(), read_only));
  return OJson{{"tools", std::move(tools)}};
}

}  // namespace latchkey::mcp
