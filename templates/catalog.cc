#include "templates/catalog.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/origin.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "re2/re2.h"
#include "rules/policy_engine.h"

namespace latchkey::templates {
namespace {

// Collects the text-format parser's first error with its position.
class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (text_.empty()) {
      text_ = absl::StrCat("line ", line + 1, ", column ", column + 1, ": ",
                           message);
    }
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

bool IsValidName(absl::string_view name) {
  static const re2::RE2 kName("[a-z0-9][a-z0-9._-]{0,63}");
  return re2::RE2::FullMatch(re2::StringPiece(name.data(), name.size()), kName);
}

absl::Status Invalid(absl::string_view stem, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("templates/", stem, ".textproto: ", what));
}

// Read-only means the methods that cannot change anything upstream.
bool IsReadOnlyMethod(absl::string_view method) {
  return method == "GET" || method == "HEAD";
}

// IsReadOnlyPost: the provider documents `path` as a read done with POST
// (the template's read_only_post_paths, matched exactly).
bool IsReadOnlyPost(const v1::ServiceTemplate& t, absl::string_view path) {
  for (const std::string& listed : t.read_only_post_paths()) {
    if (listed == path) return true;
  }
  return false;
}

absl::Status ValidateAuth(const v1::AuthScheme& auth, absl::string_view stem) {
  switch (auth.scheme_case()) {
    case v1::AuthScheme::kBearer:
      return absl::OkStatus();
    case v1::AuthScheme::kHeader:
      if (auth.header().name().empty()) {
        return Invalid(stem, "secret.auth.header.name is empty");
      }
      if (!auth.header().value_template().empty() &&
          !absl::StrContains(auth.header().value_template(), "{secret}")) {
        return Invalid(stem,
                       "secret.auth.header.value_template lacks {secret}");
      }
      return absl::OkStatus();
    case v1::AuthScheme::kBasic:
      return absl::OkStatus();
    case v1::AuthScheme::kQueryParam:
      if (auth.query_param().name().empty()) {
        return Invalid(stem, "secret.auth.query_param.name is empty");
      }
      return absl::OkStatus();
    case v1::AuthScheme::SCHEME_NOT_SET:
      return Invalid(stem, "secret.auth has no scheme set");
    default:
      // A scheme added to vault.proto after this validator: accepted, the
      // vault validates its own fields at PutSecret.
      return absl::OkStatus();
  }
}

absl::Status ValidateRules(const v1::ServiceTemplate& t,
                           absl::string_view stem) {
  const v1::Capability& cap = t.capability();
  if (cap.rules_size() == 0) return Invalid(stem, "capability has no rules");
  for (const std::string& path : t.read_only_post_paths()) {
    if (!absl::StartsWith(path, "/") ||
        path.find_first_of("*?{") != std::string::npos) {
      return Invalid(stem, absl::StrCat("read_only_post_paths: '", path,
                                        "' must be an exact path"));
    }
  }
  for (int i = 0; i < cap.rules_size(); ++i) {
    const v1::Rule& rule = cap.rules(i);
    if (rule.effect() != v1::Rule::ALLOW) continue;
    for (const std::string& method : rule.methods()) {
      if (absl::AsciiStrToUpper(method) == "POST" &&
          IsReadOnlyPost(t, rule.path())) {
        continue;
      }
      if (!IsReadOnlyMethod(absl::AsciiStrToUpper(method))) {
        return Invalid(stem,
                       absl::StrCat("capability.rules[", i, "] allows ", method,
                                    ": templates are read-only "
                                    "(GET/HEAD)"));
      }
    }
  }
  absl::StatusOr<policy::PolicyEngine> engine =
      policy::PolicyEngine::Compile(cap.rules());
  if (!engine.ok()) {
    return Invalid(stem,
                   absl::StrCat("capability.", engine.status().message()));
  }
  const v1::HealthRequest& health = t.health();
  if (!IsReadOnlyMethod(health.method()) &&
      !(health.method() == "POST" && IsReadOnlyPost(t, health.path()))) {
    return Invalid(stem,
                   "health.method must be GET or HEAD (or POST to one of "
                   "read_only_post_paths)");
  }
  if (!absl::StartsWith(health.path(), "/")) {
    return Invalid(stem, "health.path must start with /");
  }
  policy::PolicyDecision decision =
      engine->CheckRequest(health.method(), health.path());
  if (!decision.allowed) {
    return Invalid(stem, absl::StrCat("the rules do not allow the health "
                                      "request ",
                                      health.method(), " ", health.path(), ": ",
                                      decision.message));
  }
  return absl::OkStatus();
}

// SchemeMessage is the auth scheme message set in the oneof, or null.
google::protobuf::Message* SchemeMessage(v1::AuthScheme* auth) {
  const google::protobuf::Reflection* reflection = auth->GetReflection();
  const google::protobuf::OneofDescriptor* oneof =
      auth->GetDescriptor()->FindOneofByName("scheme");
  const google::protobuf::FieldDescriptor* set =
      oneof == nullptr ? nullptr
                       : reflection->GetOneofFieldDescriptor(*auth, oneof);
  if (set == nullptr ||
      set->type() != google::protobuf::FieldDescriptor::TYPE_MESSAGE) {
    return nullptr;
  }
  return reflection->MutableMessage(auth, set);
}

// SetAuthField sets one operator-supplied scalar of the scheme message.
absl::Status SetAuthField(google::protobuf::Message* scheme,
                          const std::string& name, const std::string& value) {
  const google::protobuf::FieldDescriptor* field =
      scheme->GetDescriptor()->FindFieldByName(name);
  if (field == nullptr || field->is_repeated()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--auth_field ", name, ": ",
                     scheme->GetDescriptor()->name(), " has no such field"));
  }
  const google::protobuf::Reflection* reflection = scheme->GetReflection();
  switch (field->cpp_type()) {
    case google::protobuf::FieldDescriptor::CPPTYPE_STRING:
      reflection->SetString(scheme, field, value);
      return absl::OkStatus();
    case google::protobuf::FieldDescriptor::CPPTYPE_BOOL:
      if (value != "true" && value != "false") {
        return absl::InvalidArgumentError(
            absl::StrCat("--auth_field ", name, " takes true or false"));
      }
      reflection->SetBool(scheme, field, value == "true");
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("--auth_field ", name,
                       ": only text and true/false fields can be set"));
  }
}

}  // namespace

absl::StatusOr<v1::ServiceTemplate> ParseTemplate(absl::string_view stem,
                                                  absl::string_view text) {
  v1::ServiceTemplate t;
  google::protobuf::TextFormat::Parser parser;
  FirstError errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &t)) {
    return Invalid(
        stem, errors.text().empty() ? "not a ServiceTemplate" : errors.text());
  }
  return t;
}

absl::Status ValidateTemplate(const v1::ServiceTemplate& t,
                              absl::string_view stem) {
  if (!IsValidName(t.name())) {
    return Invalid(stem, "name must match [a-z0-9][a-z0-9._-]{0,63}");
  }
  if (t.name() != stem) {
    return Invalid(stem, absl::StrCat("name \"", t.name(),
                                      "\" differs from the file name"));
  }
  if (t.title().empty()) return Invalid(stem, "title is empty");
  if (t.description().empty()) return Invalid(stem, "description is empty");
  if (t.keywords_size() == 0) return Invalid(stem, "no keywords");
  if (!absl::StartsWith(t.docs_url(), "https://")) {
    return Invalid(stem, "docs_url must be an https URL");
  }
  const v1::TemplateSecret& secret = t.secret();
  absl::Status auth = ValidateAuth(secret.auth(), stem);
  if (!auth.ok()) return auth;
  if (secret.auth().has_basic() && secret.auth().basic().username().empty() &&
      !secret.username_required()) {
    return Invalid(stem,
                   "basic auth needs a username or username_required: true");
  }
  if (secret.operator_fields_size() > 0) {
    v1::AuthScheme copy = secret.auth();
    google::protobuf::Message* scheme = SchemeMessage(&copy);
    for (const std::string& name : secret.operator_fields()) {
      const google::protobuf::FieldDescriptor* field =
          scheme == nullptr ? nullptr
                            : scheme->GetDescriptor()->FindFieldByName(name);
      if (field == nullptr || field->is_repeated() ||
          (field->cpp_type() !=
               google::protobuf::FieldDescriptor::CPPTYPE_STRING &&
           field->cpp_type() !=
               google::protobuf::FieldDescriptor::CPPTYPE_BOOL)) {
        return Invalid(stem, absl::StrCat("secret.operator_fields: \"", name,
                                          "\" is not a text or true/false "
                                          "field of the auth scheme"));
      }
    }
  }
  if (secret.prompt().empty()) return Invalid(stem, "secret.prompt is empty");
  if (secret.origins_size() == 0) return Invalid(stem, "no secret.origins");
  for (const std::string& text : secret.origins()) {
    absl::StatusOr<Origin> origin = ParseOrigin(text);
    if (!origin.ok()) {
      return Invalid(
          stem, absl::StrCat("origin ", text, ": ", origin.status().message()));
    }
    if (origin->scheme != "https") {
      return Invalid(stem, absl::StrCat("origin ", text, " is not https"));
    }
  }
  const v1::Capability& cap = t.capability();
  if (cap.description().empty()) {
    return Invalid(stem, "capability.description (for the model) is empty");
  }
  if (!cap.origin().empty() &&
      std::find(secret.origins().begin(), secret.origins().end(),
                cap.origin()) == secret.origins().end()) {
    return Invalid(stem, "capability.origin is not one of secret.origins");
  }
  return ValidateRules(t, stem);
}

absl::StatusOr<std::vector<v1::ServiceTemplate>> LoadCatalog() {
  std::vector<v1::ServiceTemplate> all;
  std::set<std::string> names;
  for (size_t i = 0; i < kEmbeddedTemplateCount; ++i) {
    const EmbeddedFile& file = kEmbeddedTemplates[i];
    absl::StatusOr<v1::ServiceTemplate> t = ParseTemplate(file.stem, file.text);
    if (!t.ok()) return t.status();
    absl::Status valid = ValidateTemplate(*t, file.stem);
    if (!valid.ok()) return valid;
    if (!names.insert(t->name()).second) {
      return Invalid(file.stem, "duplicate template name");
    }
    all.push_back(std::move(*t));
  }
  std::sort(all.begin(), all.end(),
            [](const v1::ServiceTemplate& a, const v1::ServiceTemplate& b) {
              return a.name() < b.name();
            });
  return all;
}

const v1::ServiceTemplate* Find(const std::vector<v1::ServiceTemplate>& all,
                                absl::string_view name) {
  for (const v1::ServiceTemplate& t : all) {
    if (t.name() == name) return &t;
  }
  return nullptr;
}

bool Matches(const v1::ServiceTemplate& t, absl::string_view word) {
  if (word.empty()) return true;
  const std::string lower = absl::AsciiStrToLower(word);
  auto has = [&](absl::string_view text) {
    return absl::StrContains(absl::AsciiStrToLower(text), lower);
  };
  if (has(t.name()) || has(t.title()) || has(t.description())) return true;
  for (const std::string& keyword : t.keywords()) {
    if (has(keyword)) return true;
  }
  return false;
}

absl::StatusOr<Instance> Instantiate(const v1::ServiceTemplate& t,
                                     const AddOptions& options) {
  Instance out;
  const std::string name = options.name.empty() ? t.name() : options.name;
  if (!IsValidName(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--name=", name, ": must match [a-z0-9][a-z0-9._-]{0,63}"));
  }
  const v1::TemplateSecret& secret = t.secret();
  std::vector<std::string> origins(secret.origins().begin(),
                                   secret.origins().end());
  if (!options.origin.empty()) {
    absl::StatusOr<Origin> origin = ParseOrigin(options.origin);
    if (!origin.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--origin=", options.origin, ": ", origin.status().message()));
    }
    origins = {origin->ToString()};
  } else if (secret.origin_required()) {
    return absl::InvalidArgumentError(absl::StrCat(
        t.name(), " is per tenant: pass --origin=URL, e.g. --origin=",
        secret.origins(0), " with your own host"));
  }
  v1::PutSecretRequest& put = out.secret;
  put.set_id(name);
  put.set_description(absl::StrCat(t.title(), " (template ", t.name(), ")"));
  (*put.mutable_labels())["template"] = t.name();
  *put.mutable_auth() = secret.auth();
  if (put.auth().has_basic() && !options.username.empty()) {
    put.mutable_auth()->mutable_basic()->set_username(options.username);
  } else if (!options.username.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--username only applies to Basic auth; ", t.name(),
                     " does not use it"));
  }
  if (secret.username_required() && options.username.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(t.name(),
                     " uses HTTP Basic with a per-account username: pass "
                     "--username=... (",
                     secret.prompt(), ")"));
  }
  if (!options.auth_fields.empty() || secret.operator_fields_size() > 0) {
    google::protobuf::Message* scheme = SchemeMessage(put.mutable_auth());
    if (scheme == nullptr) {
      return absl::InvalidArgumentError(
          "--auth_field: the template's auth scheme has no fields");
    }
    std::set<std::string> given;
    for (const auto& [name, value] : options.auth_fields) {
      absl::Status set = SetAuthField(scheme, name, value);
      if (!set.ok()) return set;
      given.insert(name);
    }
    for (const std::string& required : secret.operator_fields()) {
      if (given.count(required) == 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            t.name(), " needs --auth_field=", required,
            "=VALUE (see `latchkeyctl templates show ", t.name(), "`)"));
      }
    }
  }
  for (const std::string& origin : origins) put.add_origins(origin);
  if (options.origin_internal && !options.origin.empty()) {
    put.add_internal_origins(origins[0]);
  }

  v1::Capability& cap = out.capability;
  cap = t.capability();
  if (cap.name().empty() || !options.name.empty()) cap.set_name(name);
  if (cap.secret_id().empty() || !options.name.empty()) cap.set_secret_id(name);
  if (cap.origin().empty() || !options.origin.empty()) {
    cap.set_origin(origins[0]);
  }
  // The agent's test_capability tool runs the template's health request.
  if (!cap.has_health_request()) *cap.mutable_health_request() = t.health();
  cap.clear_agents();
  for (const std::string& agent : options.agents) {
    if (!agent.empty()) cap.add_agents(agent);
  }
  return out;
}

}  // namespace latchkey::templates
