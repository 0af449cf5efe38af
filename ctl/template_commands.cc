#include "ctl/template_commands.h"

#include <unistd.h>

#include <algorithm>
#include <iomanip>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/uds_server.h"
#include "ctl/ctl_util.h"
#include "google/protobuf/text_format.h"
#include "proto/broker.grpc.pb.h"
#include "proto/vault.grpc.pb.h"
#include "templates/catalog.h"

// --origin is shared with `secret put` (vault_commands.cc).
ABSL_DECLARE_FLAG(std::vector<std::string>, origin);
ABSL_DECLARE_FLAG(std::vector<std::string>, internal_origin);
ABSL_FLAG(std::string, name, "",
          "add: secret id and capability name (default: the template name)");
ABSL_FLAG(std::vector<std::string>, agents, {},
          "add: agents that may use the new capability");
ABSL_FLAG(std::string, username, "",
          "add: HTTP Basic username for templates that need one (an e-mail, "
          "an account id)");

ABSL_FLAG(std::vector<std::string>, auth_field, {},
          "add: NAME=VALUE fields of the template's auth scheme that only the "
          "operator knows (e.g. key_id=..., region=...)");

namespace latchkey::ctl {
namespace {

constexpr char kVaultSocket[] = "vault.sock";
constexpr char kAdminSocket[] = "admin.sock";

// Catalog loads the embedded templates; a broken catalog is a build bug
// (catalog_test catches it), reported rather than crashed on.
const std::vector<v1::ServiceTemplate>* Catalog() {
  static const auto* catalog = [] {
    auto loaded = templates::LoadCatalog();
    if (!loaded.ok()) {
      std::cerr << "latchkeyctl: built-in templates are broken: "
                << loaded.status().message() << "\n";
      return new std::vector<v1::ServiceTemplate>();
    }
    return new std::vector<v1::ServiceTemplate>(std::move(*loaded));
  }();
  return catalog;
}

std::string SchemeSummary(const v1::AuthScheme& auth) {
  switch (auth.scheme_case()) {
    case v1::AuthScheme::kBearer:
      return "bearer";
    case v1::AuthScheme::kHeader:
      return absl::StrCat("header ", auth.header().name());
    case v1::AuthScheme::kBasic:
      return "basic";
    case v1::AuthScheme::kQueryParam:
      return absl::StrCat("query ", auth.query_param().name());
    case v1::AuthScheme::kHmac:
      return "hmac signature";
    case v1::AuthScheme::kAwsSigv4:
      return absl::StrCat("aws sigv4 ", auth.aws_sigv4().service());
    case v1::AuthScheme::kGithubApp:
      return "github app";
    case v1::AuthScheme::kOauth2:
      return absl::StrCat("oauth2 ", auth.oauth2().grant());
    case v1::AuthScheme::kOauth1:
      return "oauth1";
    case v1::AuthScheme::kKraken:
      return "kraken signature";
    default:
      return "other";
  }
}

// AuthSummary names the scheme and, for a multi-part secret, the parts
// sent besides it ("hmac signature + passphrase").
std::string AuthSummary(const v1::AuthScheme& auth) {
  std::string summary = SchemeSummary(auth);
  for (const v1::SecretHeader& part : auth.secret_headers()) {
    absl::StrAppend(&summary, " + ", part.field());
  }
  return summary;
}

int Search(const Args& args) {
  const std::string word = args.empty() ? "" : args[0];
  std::vector<const v1::ServiceTemplate*> found;
  for (const auto& t : *Catalog()) {
    if (templates::Matches(t, word)) found.push_back(&t);
  }
  if (found.empty()) {
    std::cerr << "latchkeyctl: no template matches \"" << word
              << "\" (`latchkeyctl search` lists them all)\n";
    return kExitRefused;
  }
  size_t name_width = 4, title_width = 5, auth_width = 4;
  for (const auto* t : found) {
    name_width = std::max(name_width, t->name().size());
    title_width = std::max(title_width, t->title().size());
    auth_width = std::max(auth_width, AuthSummary(t->secret().auth()).size());
  }
  auto row = [&](const std::string& a, const std::string& b,
                 const std::string& c, const std::string& d) {
    std::cout << std::left << std::setw(name_width + 2) << a
              << std::setw(title_width + 2) << b << std::setw(auth_width + 2)
              << c << d << "\n";
  };
  row("NAME", "TITLE", "AUTH", "ORIGIN");
  for (const auto* t : found) {
    row(t->name(), t->title(), AuthSummary(t->secret().auth()),
        t->secret().origin_required()
            ? absl::StrCat(t->secret().origins(0), " (per tenant)")
            : t->secret().origins(0));
  }
  return kExitOk;
}

const v1::ServiceTemplate* FindOrExplain(const std::string& name) {
  const v1::ServiceTemplate* t = templates::Find(*Catalog(), name);
  if (t == nullptr) {
    std::cerr << "latchkeyctl: no template named \"" << name
              << "\" (`latchkeyctl search WORD` finds one)\n";
  }
  return t;
}

// AddExample is the `add` command line a template needs, e.g.
// "latchkeyctl add jira --origin=https://your-site.atlassian.net
// --username=USER".
std::string AddExample(const v1::ServiceTemplate& t) {
  std::string line = absl::StrCat("latchkeyctl add ", t.name());
  if (t.secret().origin_required()) {
    absl::StrAppend(&line, " --origin=", t.secret().origins(0));
  }
  if (t.secret().username_required())
    absl::StrAppend(&line, " --username=USER");
  if (t.secret().operator_fields_size() > 0) {
    std::vector<std::string> fields;
    for (const std::string& f : t.secret().operator_fields()) {
      fields.push_back(absl::StrCat(f, "=..."));
    }
    absl::StrAppend(&line, " --auth_field=", absl::StrJoin(fields, ","));
  }
  return absl::StrCat(line, " --agents=AGENT");
}

int Show(const Args& args) {
  const v1::ServiceTemplate* t = FindOrExplain(args[0]);
  if (t == nullptr) return kExitRefused;
  std::string text;
  google::protobuf::TextFormat::PrintToString(*t, &text);
  std::cout << "# " << AddExample(*t) << "\n" << text;
  return kExitOk;
}

std::string HealthUrl(const v1::HealthRequest& health,
                      const std::string& origin) {
  std::string url = absl::StrCat(origin, health.path());
  if (!health.query().empty()) absl::StrAppend(&url, "?", health.query());
  return url;
}

// Preflight refuses, before anything is created, what would make the
// second step fail: an existing secret or capability, an unknown agent.
int Preflight(const templates::Instance& instance, v1::VaultAdmin::Stub* vault,
              v1::BrokerAdmin::Stub* broker) {
  v1::GetSecretMetadataRequest get;
  get.set_id(instance.secret.id());
  v1::SecretMetadata existing;
  grpc::Status rpc = vault->GetSecretMetadata(Context().get(), get, &existing);
  if (rpc.ok()) {
    std::cerr << "latchkeyctl: a secret \"" << instance.secret.id()
              << "\" already exists; nothing was changed. Pass --name=OTHER, "
                 "or replace its value with `latchkeyctl secret put "
              << instance.secret.id() << "`.\n";
    return kExitRefused;
  }
  if (rpc.error_code() != grpc::StatusCode::NOT_FOUND) {
    return Report(rpc, SocketPath(kVaultSocket));
  }
  v1::ListCapabilitiesResponse capabilities;
  rpc = broker->ListCapabilities(Context().get(), v1::ListCapabilitiesRequest(),
                                 &capabilities);
  if (!rpc.ok()) return Report(rpc, SocketPath(kAdminSocket));
  for (const auto& cap : capabilities.capabilities()) {
    if (cap.name() == instance.capability.name()) {
      std::cerr << "latchkeyctl: a capability \"" << cap.name()
                << "\" already exists; nothing was changed. Pass "
                   "--name=OTHER.\n";
      return kExitRefused;
    }
  }
  v1::ListAgentsResponse agents;
  rpc = broker->ListAgents(Context().get(), v1::ListAgentsRequest(), &agents);
  if (!rpc.ok()) return Report(rpc, SocketPath(kAdminSocket));
  for (const std::string& wanted : instance.capability.agents()) {
    bool known = false;
    for (const auto& agent : agents.agents()) known |= agent.name() == wanted;
    if (!known) {
      std::cerr << "latchkeyctl: no agent named \"" << wanted
                << "\"; nothing was changed (`latchkeyctl agent create "
                << wanted << "` first).\n";
      return kExitRefused;
    }
  }
  return kExitOk;
}

void PrintCreated(const v1::ServiceTemplate& t,
                  const templates::Instance& instance,
                  const v1::SecretMetadata& secret) {
  const v1::Capability& cap = instance.capability;
  std::cout << "Created secret \"" << secret.id() << "\" (version "
            << secret.version() << ", " << AuthSummary(secret.auth())
            << ", origins " << absl::StrJoin(secret.origins(), ", ") << ")\n";
  std::cout << "Created capability \"" << cap.name() << "\" -> " << cap.origin()
            << ", read only, " << cap.rules_size() << " rules, agents: "
            << (cap.agents().empty() ? "none yet (add with `latchkeyctl "
                                       "capability update` or --agents)"
                                     : absl::StrJoin(cap.agents(), ","))
            << "\n";
  if (!t.secret().limitations().empty()) {
    std::cout << "Note: " << t.secret().limitations() << "\n";
  }
  std::cout << "Health request to try: " << t.health().method() << " "
            << HealthUrl(t.health(), cap.origin()) << "\n";
  std::cout << "  policy check: latchkeyctl explain --agent=AGENT "
               "--capability="
            << cap.name() << " --method=" << t.health().method()
            << " --path=" << t.health().path() << "\n";
}

int AddService(const Args& args) {
  const v1::ServiceTemplate* t = FindOrExplain(args[0]);
  if (t == nullptr) return kExitRefused;
  templates::AddOptions options;
  options.name = absl::GetFlag(FLAGS_name);
  options.username = absl::GetFlag(FLAGS_username);
  options.agents = absl::GetFlag(FLAGS_agents);
  const std::vector<std::string> origins = absl::GetFlag(FLAGS_origin);
  const std::vector<std::string> internal =
      absl::GetFlag(FLAGS_internal_origin);
  if (origins.size() + internal.size() > 1) {
    return UsageError("add takes one --origin or one --internal_origin");
  }
  if (!origins.empty()) options.origin = origins[0];
  if (!internal.empty()) {
    // A self-hosted service on loopback or the private network.
    options.origin = internal[0];
    options.origin_internal = true;
  }
  for (const std::string& field : absl::GetFlag(FLAGS_auth_field)) {
    size_t eq = field.find('=');
    if (eq == std::string::npos || eq == 0) {
      return UsageError("--auth_field takes NAME=VALUE, e.g. key_id=abc");
    }
    options.auth_fields.push_back({field.substr(0, eq), field.substr(eq + 1)});
  }
  absl::StatusOr<templates::Instance> instance =
      templates::Instantiate(*t, options);
  if (!instance.ok())
    return UsageError(std::string(instance.status().message()));

  auto vault =
      v1::VaultAdmin::NewStub(CreateUdsChannel(SocketPath(kVaultSocket)));
  auto broker =
      v1::BrokerAdmin::NewStub(CreateUdsChannel(SocketPath(kAdminSocket)));
  int preflight = Preflight(*instance, vault.get(), broker.get());
  if (preflight != kExitOk) return preflight;

  std::cerr << t->title() << ": " << t->secret().prompt() << "\n";
  SecureBuffer value =
      t->secret().multiline()
          ? ReadMultilineSecretFromStdin(
                "Secret value (not echoed; end with an empty line): ")
          : ReadSecretFromStdin("Secret value (not echoed): ");
  if (value.view().empty()) {
    return UsageError("empty secret value; nothing was changed");
  }
  v1::PutSecretRequest put = instance->secret;
  put.set_value(std::string(value.view()));
  v1::SecretMetadata metadata;
  grpc::Status rpc = vault->PutSecret(Context().get(), put, &metadata);
  CleanseString(put.mutable_value());
  if (!rpc.ok()) {
    std::cerr << "latchkeyctl: the vault refused the secret; nothing was "
                 "created.\n";
    return Report(rpc, SocketPath(kVaultSocket));
  }

  v1::CreateCapabilityRequest create;
  *create.mutable_capability() = instance->capability;
  v1::Capability created;
  rpc = broker->CreateCapability(Context().get(), create, &created);
  if (!rpc.ok()) {
    // Undo the first step so that a retry starts from a clean slate.
    std::cerr << "latchkeyctl: the broker refused the capability \""
              << instance->capability.name() << "\": " << rpc.error_message()
              << "\n";
    v1::DeleteSecretRequest undo;
    undo.set_id(metadata.id());
    v1::DeleteSecretResponse undone;
    grpc::Status rollback = vault->DeleteSecret(Context().get(), undo, &undone);
    if (rollback.ok()) {
      std::cerr << "  The secret \"" << metadata.id()
                << "\" it was for has been deleted again; nothing is left. "
                   "Fix the cause and run the same `latchkeyctl add` again.\n";
    } else {
      std::cerr << "  The secret \"" << metadata.id()
                << "\" WAS created and could not be deleted ("
                << rollback.error_message()
                << "). Remove it with `latchkeyctl secret delete "
                << metadata.id() << "` before retrying.\n";
    }
    return rpc.error_code() == grpc::StatusCode::UNAVAILABLE ? kExitUnreachable
                                                             : kExitRefused;
  }
  PrintCreated(*t, *instance, metadata);
  return kExitOk;
}

}  // namespace

void AddTemplateCommands(CommandTable* table) {
  table->Add({{"search"},
              "[WORD]",
              "list service templates matching WORD (name, title, keywords, "
              "description)",
              Search,
              0,
              1});
  table->Add({{"templates", "show"},
              "SERVICE",
              "print one service template",
              Show,
              1,
              1});
  table->Add({{"add"},
              "SERVICE [--name=N] [--origin=URL | --internal_origin=URL] "
              "[--username=U] "
              "[--auth_field=NAME=VALUE,...] [--agents=A,B]",
              "read the credential from stdin (no echo); create its secret "
              "and a read-only capability from the template",
              AddService,
              1,
              1});
}

}  // namespace latchkey::ctl
