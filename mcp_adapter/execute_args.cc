#include "mcp_adapter/execute_args.h"

#include <functional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/limits.h"
#include "rules/http_method.h"
#include "rules/identifiers.h"

namespace latchkey::mcp {
namespace {

constexpr const char* kKnownKeys[] = {"capability", "method",     "path",
                                      "query",      "headers",    "body",
                                      "reason",     "approval_id"};

// The longest method name accepted (the broker decides which are allowed).
constexpr size_t kMaxMethodBytes = 32;

absl::Status Invalid(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

bool IsKnownKey(const std::string& key) {
  for (const char* known : kKnownKeys) {
    if (key == known) return true;
  }
  return false;
}

// RequiredString reads arguments[key] as a non-empty string.
absl::StatusOr<std::string> RequiredString(const Json& arguments,
                                           const char* key,
                                           absl::string_view example) {
  auto it = arguments.find(key);
  if (it == arguments.end() || it->is_null()) {
    return Invalid(absl::StrCat("Missing required argument \"", key,
                                "\". Example: \"", key, "\": ", example, "."));
  }
  if (!it->is_string()) {
    return Invalid(absl::StrCat("Argument \"", key, "\" must be a string, not ",
                                it->type_name(), ". Example: \"", key,
                                "\": ", example, "."));
  }
  std::string value = it->get<std::string>();
  if (value.empty()) {
    return Invalid(absl::StrCat("Argument \"", key,
                                "\" must not be empty. Example: \"", key,
                                "\": ", example, "."));
  }
  return value;
}

// StringMap reads an optional object of string values.
absl::Status ForEachStringEntry(
    const Json& arguments, const char* key, size_t max_entries,
    absl::string_view example,
    const std::function<void(const std::string&, const std::string&)>& add) {
  auto it = arguments.find(key);
  if (it == arguments.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_object()) {
    return Invalid(absl::StrCat(
        "Argument \"", key, "\" must be an object of string values, not ",
        it->type_name(), ". Example: \"", key, "\": ", example, "."));
  }
  if (it->size() > max_entries) {
    return Invalid(absl::StrCat("Argument \"", key, "\" has ", it->size(),
                                " entries; at most ", max_entries,
                                " are allowed."));
  }
  for (const auto& [name, value] : it->items()) {
    if (!value.is_string()) {
      return Invalid(absl::StrCat(
          "Argument \"", key, "\": the value of \"", TruncateUtf8(name, 64),
          "\" must be a string, not ", value.type_name(),
          " (write numbers and booleans as strings, e.g. \"5\", \"true\")."));
    }
    add(name, value.get<std::string>());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::ExecuteRequest> ParseExecuteArguments(
    const Json& arguments) {
  if (!arguments.is_object()) {
    return Invalid("Arguments must be a JSON object.");
  }
  for (const auto& [key, value] : arguments.items()) {
    if (!IsKnownKey(key)) {
      return Invalid(absl::StrCat(
          "Unknown argument \"", TruncateUtf8(key, 64),
          "\". execute accepts only: ", absl::StrJoin(kKnownKeys, ", "), "."));
    }
  }
  v1::ExecuteRequest request;
  auto capability = RequiredString(arguments, "capability", "\"github\"");
  if (!capability.ok()) {
    return Invalid(absl::StrCat(capability.status().message(),
                                " Call list_capabilities to see the names."));
  }
  request.set_capability(*capability);

  auto method = RequiredString(arguments, "method", "\"GET\"");
  if (!method.ok()) return method.status();
  if (method->size() > kMaxMethodBytes) {
    return Invalid(
        "Argument \"method\" is too long; use an HTTP method such "
        "as GET, POST, PUT, PATCH or DELETE.");
  }
  // HTTP methods are upper case; accept "get" from a model and send "GET".
  const std::string upper = absl::AsciiStrToUpper(*method);
  // The broker's own method rule (rules/http_method.h), early and friendly.
  if (absl::Status valid = policy::ValidateRequestMethod(upper); !valid.ok()) {
    return Invalid(absl::StrCat("Argument \"method\": ", valid.message(),
                                " Use an HTTP method such as GET, POST, PUT, "
                                "PATCH or DELETE."));
  }
  request.mutable_request()->set_method(upper);

  auto path = RequiredString(arguments, "path", "\"/repos/octo/hello/issues\"");
  if (!path.ok()) return path.status();
  if ((*path)[0] != '/') {
    return Invalid(absl::StrCat(
        "Argument \"path\" must start with \"/\": it is the path on the "
        "capability's origin, not a full URL (got \"",
        TruncateUtf8(*path, 80),
        "\"). Example: \"/repos/octo/hello/issues\"."));
  }
  if (path->find_first_of("?#") != std::string::npos) {
    return Invalid(
        "Argument \"path\" must not contain \"?\" or \"#\": put query "
        "parameters in \"query\", e.g. \"query\": {\"state\": \"open\"}.");
  }
  if (path->size() > kMaxPathBytes) {
    return Invalid(absl::StrCat("Argument \"path\" is ", path->size(),
                                " bytes; at most ", kMaxPathBytes,
                                " are allowed."));
  }
  request.mutable_request()->set_path(*path);

  v1::HttpRequest* http = request.mutable_request();
  absl::Status status = ForEachStringEntry(
      arguments, "query", kMaxQueryParams, "{\"per_page\": \"10\"}",
      [http](const std::string& name, const std::string& value) {
        v1::QueryParam* param = http->add_query();
        param->set_name(name);
        param->set_value(value);
      });
  if (!status.ok()) return status;
  status = ForEachStringEntry(
      arguments, "headers", kMaxHeaderCount,
      "{\"Accept\": \"application/json\"}",
      [http](const std::string& name, const std::string& value) {
        v1::Header* header = http->add_headers();
        header->set_name(name);
        header->set_value(value);
      });
  if (!status.ok()) return status;

  auto body = arguments.find("body");
  if (body != arguments.end() && !body->is_null()) {
    if (!body->is_string()) {
      return Invalid(absl::StrCat(
          "Argument \"body\" must be a string, not ", body->type_name(),
          ". To send JSON, serialize it into the string and set "
          "\"headers\": {\"Content-Type\": \"application/json\"}."));
    }
    const std::string& text = body->get_ref<const std::string&>();
    if (text.size() > kMaxRequestBodyBytes) {
      return Invalid(absl::StrCat("Argument \"body\" is ", text.size(),
                                  " bytes; at most ", kMaxRequestBodyBytes,
                                  " are allowed."));
    }
    http->set_body(text);
  }

  auto reason = arguments.find("reason");
  if (reason != arguments.end() && !reason->is_null()) {
    if (!reason->is_string()) {
      return Invalid(
          "Argument \"reason\" must be a string: one sentence on "
          "why you make this request.");
    }
    const std::string& text = reason->get_ref<const std::string&>();
    if (text.size() > kMaxReasonBytes) {
      return Invalid(absl::StrCat("Argument \"reason\" is ", text.size(),
                                  " bytes; at most ", kMaxReasonBytes,
                                  " are allowed."));
    }
    request.set_reason(text);
  }

  auto approval_id = arguments.find("approval_id");
  if (approval_id != arguments.end() && !approval_id->is_null()) {
    // The identifier rule the broker applies (rules/identifiers.h).
    if (!approval_id->is_string() ||
        !CheckIdentifier("approval_id",
                         approval_id->get_ref<const std::string&>(),
                         /*may_be_empty=*/true)
             .ok()) {
      return Invalid(
          "Argument \"approval_id\" must be the approval_id string an "
          "APPROVAL_PENDING result gave you.");
    }
    request.set_approval_id(approval_id->get<std::string>());
  }
  return request;
}

}  // namespace latchkey::mcp
