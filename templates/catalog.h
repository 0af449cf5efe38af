// The service template catalog: templates/*.textproto, embedded into the
// binary at build time (embedded_templates.cc, generated), parsed,
// validated and turned into the vault secret and broker capability that
// `latchkeyctl add SERVICE` creates.
#ifndef LATCHKEY_TEMPLATES_CATALOG_H_
#define LATCHKEY_TEMPLATES_CATALOG_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/broker.pb.h"
#include "proto/template.pb.h"
#include "proto/vault.pb.h"

namespace latchkey::templates {

// One embedded file: its base name without ".textproto" and its text.
struct EmbeddedFile {
  const char* stem;
  const char* text;
};
// Defined in the generated embedded_templates.cc, sorted by file name.
extern const EmbeddedFile kEmbeddedTemplates[];
extern const size_t kEmbeddedTemplateCount;

// ParseTemplate parses one file's text; INVALID_ARGUMENT names the file
// and the parser's line and column.
absl::StatusOr<v1::ServiceTemplate> ParseTemplate(absl::string_view stem,
                                                  absl::string_view text);

// ValidateTemplate checks a shipped template: name matches the file stem,
// operator texts and keywords present, an auth scheme set, https origins
// that parse, rules that compile with the broker's policy engine, ALLOW
// rules naming only GET/HEAD, and a health request that those rules allow.
absl::Status ValidateTemplate(const v1::ServiceTemplate& t,
                              absl::string_view stem);

// LoadCatalog parses and validates every embedded template, sorted by
// name; the first problem is an error naming the file.
absl::StatusOr<std::vector<v1::ServiceTemplate>> LoadCatalog();

// Find returns the template named `name`, or null.
const v1::ServiceTemplate* Find(const std::vector<v1::ServiceTemplate>& all,
                                absl::string_view name);

// Matches is true when `word` occurs (ignoring case) in the name, title,
// a keyword or the description.
bool Matches(const v1::ServiceTemplate& t, absl::string_view word);

// AddOptions are the operator's overrides for `latchkeyctl add`.
struct AddOptions {
  std::string name;    // secret id and capability name; template name if ""
  std::string origin;  // replaces the template's origins if not ""
  // origin_internal marks `origin` internal: it may resolve to a loopback
  // or private address (a self-hosted service, a local test upstream).
  bool origin_internal = false;
  std::string username;  // Basic username for username_required templates
  std::vector<std::string> agents;
  // auth_fields set string or bool fields of the template's auth scheme
  // message, e.g. {"key_id", "abc"}; required for its operator_fields.
  std::vector<std::pair<std::string, std::string>> auth_fields;
};

// Instance is what `add` creates: the secret (without its value) and the
// capability bound to it.
struct Instance {
  v1::PutSecretRequest secret;
  v1::Capability capability;
};

// Instantiate applies `options` to a template. INVALID_ARGUMENT, saying
// which flag to pass, for a bad name or origin, a tenant origin or Basic
// username the template needs but that was not given.
absl::StatusOr<Instance> Instantiate(const v1::ServiceTemplate& t,
                                     const AddOptions& options);

}  // namespace latchkey::templates

#endif  // LATCHKEY_TEMPLATES_CATALOG_H_
