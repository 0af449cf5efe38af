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

constexpr char kExecuteApprovalText[] =
    " Some capabilities require a `reason` (code REASON_REQUIRED: retry "
    "with one) or a human's approval (code APPROVAL_PENDING: the result has "
    "an approval_id; tell the user, then call execute again with the same "
    "arguments plus that approval_id every few seconds at most until it is "
    "approved, denied or timed out).";

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

constexpr char kWhoAmIDescription[] =
    "Show who you are to Latchkey: the agent identity the broker "
    "established from your token and your process's Unix uid (not a name "
    "you or your client chose), your sessions (id prefixes only), and every "
    "capability with whether you can use it and why not (code and "
    "next_step). Use it when you are unsure which capabilities you have or "
    "why one is refused. Never shows a token or credential.";

constexpr char kExplainAccessDescription[] =
    "Explain, without sending anything, how Latchkey would decide a "
    "request: give capability, method and path (and the reason you would "
    "give). Returns the decision and the trace of every check in order "
    "(identity, capability, agent access, revocation, session, request, "
    "each rule considered with match or no match, reason gate, approval "
    "gate, rate limits) and, when it would be denied, the reason code and "
    "the next step. Use it before a request you are unsure about, or after "
    "a denial to learn exactly which rule or gate refused it. It executes, "
    "audits and rate-limits nothing.";

constexpr char kTestCapabilityDescription[] =
    "Check that a capability works: Latchkey sends its configured health "
    "request (for example GET /v1/balance) through the same checks as "
    "execute (audited, rate-limited, session-checked) and reports whether "
    "the upstream was reachable, whether authentication succeeded (status "
    "not 401/403), the status class and the latency. The response body is "
    "never returned. If it is denied, read code and next_step; if auth_ok "
    "is false, tell the user the credential may be wrong or expired.";

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
                      "when you have no session.")},
        {"requires_reason",
         {{"type", "boolean"},
          {"description", "execute needs a `reason` for this capability."}}},
        {"max_reason_bytes", {{"type", "integer"}}},
        {"approval",
         {{"type", "string"},
          {"enum", {"none", "first_request_of_session", "every_request"}},
          {"description", "Which requests wait for a human's approval."}}},
        {"health_check",
         StringSchema("What test_capability sends, e.g. \"GET /v1/balance\"; "
                      "absent when it has none.")}}},
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
          {"description", "For RATE_LIMITED: seconds to wait."}}},
        {"approval_id",
         StringSchema("For APPROVAL_*: the approval; pass it back to execute "
                      "to poll.")},
        {"approval_state",
         {{"type", "string"},
          {"enum", {"pending", "approved", "denied", "timed_out", "used"}}}},
        {"approval_expire_time",
         StringSchema("RFC 3339 time a pending approval times out.")}}},
      {"required", {"denied", "request_id"}},
      {"anyOf",
       {{{"required", {"status", "headers", "body", "body_truncated"}}},
        {{"required", {"code", "message", "next_step"}}}}}};
}

OJson CapabilityArgInput(bool with_request) {
  OJson properties{{"capability",
                    StringSchema("Capability name from list_capabilities, e.g. "
                                 "\"github\".")}};
  OJson required = OJson::array({"capability"});
  if (with_request) {
    properties["method"] = StringSchema("HTTP method, e.g. \"GET\".");
    properties["path"] = OJson{{"type", "string"},
                               {"pattern", "^/"},
                               {"description",
                                "Request path starting with /, without "
                                "query string."}};
    properties["reason"] =
        StringSchema("The reason you would give execute (optional).");
    required.push_back("method");
    required.push_back("path");
  } else {
    properties["approval_id"] = StringSchema(
        "Only to poll an APPROVAL_PENDING health request: its approval_id.");
  }
  return OJson{{"type", "object"},
               {"properties", std::move(properties)},
               {"required", std::move(required)},
               {"additionalProperties", false}};
}

OJson DenialProperties(OJson properties) {
  properties["code"] =
      StringSchema("Why it is denied, e.g. RULE_DENY, APPROVAL_PENDING.");
  properties["message"] = StringSchema("What happened, in one sentence.");
  properties["next_step"] = StringSchema("What to do about it.");
  properties["rule"] = StringSchema("The deciding rule, if a rule decided.");
  return properties;
}

OJson WhoAmIOutput() {
  OJson session{
      {"type", "object"},
      {"properties",
       {{"session_id_prefix", StringSchema("First 8 characters.")},
        {"capabilities", {{"type", "array"}, {"items", {{"type", "string"}}}}},
        {"expire_time", StringSchema("RFC 3339 expiry time.")},
        {"revoked", {{"type", "boolean"}}},
        {"current", {{"type", "boolean"}}}}},
      {"required", {"session_id_prefix", "revoked"}}};
  OJson access{
      {"type", "object"},
      {"properties",
       {{"name", StringSchema("Capability name.")},
        {"usable", {{"type", "boolean"}}},
        {"code", StringSchema("Why not usable, e.g. AGENT_NOT_ALLOWED.")},
        {"why", StringSchema("One sentence.")},
        {"next_step", StringSchema("What to do when not usable.")},
        {"requires_reason", {{"type", "boolean"}}},
        {"approval",
         {{"type", "string"},
          {"enum", {"none", "first_request_of_session", "every_request"}}}}}},
      {"required", {"name", "usable", "why"}}};
  return OJson{
      {"type", "object"},
      {"properties",
       {{"agent", StringSchema("Your agent identity, as the broker knows it.")},
        {"peer_uid",
         {{"type", "integer"},
          {"description", "Your process's Unix uid (SO_PEERCRED)."}}},
        {"authenticated_by", StringSchema("How the broker identified you.")},
        {"sessions", {{"type", "array"}, {"items", session}}},
        {"capabilities", {{"type", "array"}, {"items", access}}}}},
      {"required", {"agent", "peer_uid", "sessions", "capabilities"}}};
}

OJson ExplainOutput() {
  OJson step{{"type", "object"},
             {"properties",
              {{"check", StringSchema("Which check.")},
               {"passed", {{"type", "boolean"}}},
               {"detail", StringSchema("What was found.")},
               {"code", StringSchema("Reason code when it did not pass.")}}},
             {"required", {"check", "passed", "detail"}}};
  return OJson{
      {"type", "object"},
      {"properties",
       DenialProperties(
           {{"decision", {{"type", "string"}, {"enum", {"allow", "deny"}}}},
            {"normalized_path",
             StringSchema("The path as it would be matched and sent.")},
            {"trace", {{"type", "array"}, {"items", step}}}})},
      {"required", {"decision", "trace"}}};
}

OJson TestCapabilityOutput() {
  return OJson{
      {"type", "object"},
      {"properties",
       DenialProperties(
           {{"denied", {{"type", "boolean"}}},
            {"reachable",
             {{"type", "boolean"},
              {"description", "The upstream answered with an HTTP status."}}},
            {"auth_ok",
             {{"type", "boolean"},
              {"description", "Reachable and the status is not 401/403."}}},
            {"status", {{"type", "integer"}}},
            {"status_class", StringSchema("2xx, 3xx, 4xx or 5xx.")},
            {"latency_ms", {{"type", "number"}}},
            {"method", {{"type", "string"}}},
            {"path", {{"type", "string"}}},
            {"request_id", StringSchema("The audit record of this test.")},
            {"approval_id",
             StringSchema("For APPROVAL_PENDING: poll with it.")}})},
      {"required", {"denied", "reachable", "auth_ok"}}};
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
           const std::string& description, OJson input, OJson output,
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
         name == kSessionStatusTool || name == kWhoAmITool ||
         name == kExplainAccessTool || name == kTestCapabilityTool;
}

absl::string_view KnownToolNames() {
  return "list_capabilities, execute, session_status, whoami, "
         "explain_access, test_capability";
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
                       std::string(kExecuteDescription) + kExecuteApprovalText,
                       ExecuteInput(), ExecuteOutput(), execute_hints));
  tools.push_back(Tool(version, "session_status", "Latchkey session status",
                       kSessionStatusDescription, ListCapabilitiesInput(),
                       SessionStatusOutput(), read_only));
  tools.push_back(Tool(version, "whoami", "Who am I to Latchkey",
                       kWhoAmIDescription, ListCapabilitiesInput(),
                       WhoAmIOutput(), read_only));
  tools.push_back(Tool(version, "explain_access",
                       "Explain a Latchkey access decision",
                       kExplainAccessDescription, CapabilityArgInput(true),
                       ExplainOutput(), read_only));
  // test_capability sends a (harmless, configured) request upstream.
  OJson test_hints{{"readOnlyHint", true},
                   {"idempotentHint", true},
                   {"openWorldHint", true}};
  tools.push_back(Tool(version, "test_capability", "Test a Latchkey capability",
                       kTestCapabilityDescription, CapabilityArgInput(false),
                       TestCapabilityOutput(), test_hints));
  return OJson{{"tools", std::move(tools)}};
}

}  // namespace latchkey::mcp
