// Every shipped template loads and validates, and what `add` would create
// from it is accepted by the broker's own configuration compiler.
#include "templates/catalog.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "broker/broker_config.h"
#include "gtest/gtest.h"
#include "rules/policy_engine.h"

namespace latchkey::templates {
namespace {

// The issue asks for at least 40 services.
constexpr size_t kMinTemplates = 40;

// Options that satisfy templates needing a tenant origin or a username.
AddOptions OptionsFor(const v1::ServiceTemplate& t) {
  AddOptions options;
  if (t.secret().origin_required()) options.origin = t.secret().origins(0);
  if (t.secret().username_required()) options.username = "ops@example.com";
  for (const std::string& field : t.secret().operator_fields()) {
    options.auth_fields.push_back({field, "operator-value-1"});
  }
  return options;
}

// A concrete path a pattern matches: "*" -> "x", "**" -> "x/y".
std::string ExamplePath(const std::string& pattern) {
  std::string path = absl::StrReplaceAll(pattern, {{"**", "x/y"}});
  return absl::StrReplaceAll(path, {{"*", "x"}});
}

TEST(CatalogTest, EveryEmbeddedFileParsesAndValidates) {
  ASSERT_GE(kEmbeddedTemplateCount, kMinTemplates);
  for (size_t i = 0; i < kEmbeddedTemplateCount; ++i) {
    const EmbeddedFile& file = kEmbeddedTemplates[i];
    absl::StatusOr<v1::ServiceTemplate> t = ParseTemplate(file.stem, file.text);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_TRUE(ValidateTemplate(*t, file.stem).ok())
        << ValidateTemplate(*t, file.stem);
  }
}

// Each file starts by saying what the service's auth documentation says, so
// a reviewer can check origin, scheme and health request against it.
TEST(CatalogTest, EveryFileCitesItsSource) {
  for (size_t i = 0; i < kEmbeddedTemplateCount; ++i) {
    const std::string text = kEmbeddedTemplates[i].text;
    EXPECT_NE(text.find("# Source:"), std::string::npos)
        << kEmbeddedTemplates[i].stem;
  }
}

TEST(CatalogTest, LoadsAtLeastFortyUniqueTemplates) {
  absl::StatusOr<std::vector<v1::ServiceTemplate>> all = LoadCatalog();
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_GE(all->size(), kMinTemplates);
  std::set<std::string> names;
  for (const auto& t : *all) EXPECT_TRUE(names.insert(t.name()).second);
}

// The capability `add` creates compiles with the broker's own validation
// (name, secret_id, origin, rules, TTLs, rate limit).
TEST(CatalogTest, InstancesCompileInTheBroker) {
  auto all = LoadCatalog();
  ASSERT_TRUE(all.ok()) << all.status();
  for (const auto& t : *all) {
    absl::StatusOr<Instance> instance = Instantiate(t, OptionsFor(t));
    ASSERT_TRUE(instance.ok()) << t.name() << ": " << instance.status();
    EXPECT_EQ(instance->secret.id(), t.name());
    EXPECT_EQ(instance->capability.secret_id(), t.name());
    EXPECT_FALSE(instance->secret.origins().empty());
    EXPECT_NE(instance->secret.auth().scheme_case(),
              v1::AuthScheme::SCHEME_NOT_SET);
    v1::BrokerConfig config;
    *config.add_capabilities() = instance->capability;
    auto state = broker::BrokerState::Compile(config);
    EXPECT_TRUE(state.ok()) << t.name() << ": " << state.status();
  }
}

// Independently of the validator's method check: for every rule's path
// and the health path, the compiled policy refuses every write method,
// except POST on the exact paths a template lists as reads done with POST
// (Kraken), and nothing else on those paths either.
TEST(CatalogTest, NoTemplateAllowsAWrite) {
  auto all = LoadCatalog();
  ASSERT_TRUE(all.ok()) << all.status();
  for (const auto& t : *all) {
    auto engine = policy::PolicyEngine::Compile(t.capability().rules());
    ASSERT_TRUE(engine.ok()) << t.name();
    std::vector<std::string> paths = {t.health().path()};
    for (const auto& rule : t.capability().rules()) {
      paths.push_back(ExamplePath(rule.path()));
    }
    const auto& post_reads = t.read_only_post_paths();
    for (const std::string& path : paths) {
      for (const char* method : {"POST", "PUT", "PATCH", "DELETE"}) {
        if (std::string(method) == "POST" &&
            std::find(post_reads.begin(), post_reads.end(), path) !=
                post_reads.end()) {
          continue;
        }
        EXPECT_FALSE(engine->CheckRequest(method, path).allowed)
            << t.name() << " allows " << method << " " << path;
      }
    }
    EXPECT_TRUE(
        engine->CheckRequest(t.health().method(), t.health().path()).allowed)
        << t.name();
  }
}

// Each template says which provider page its rule follows and what the
// independent verifier (tests/verifier) checks.
TEST(CatalogTest, EveryTemplateNamesItsSourceAndWhatIsVerified) {
  for (size_t i = 0; i < kEmbeddedTemplateCount; ++i) {
    const std::string text = kEmbeddedTemplates[i].text;
    EXPECT_NE(text.find("\n# Source: "), std::string::npos)
        << kEmbeddedTemplates[i].stem;
    EXPECT_NE(text.find("Verified: tests/verifier"), std::string::npos)
        << kEmbeddedTemplates[i].stem;
  }
}

// read_only_post_paths cannot widen a template beyond exact paths.
TEST(CatalogTest, ReadOnlyPostPathsAreExactAndOnlyForPost) {
  auto all = LoadCatalog();
  ASSERT_TRUE(all.ok()) << all.status();
  const v1::ServiceTemplate* kraken = Find(*all, "kraken");
  ASSERT_NE(kraken, nullptr);
  EXPECT_TRUE(ValidateTemplate(*kraken, "kraken").ok());
  v1::ServiceTemplate wildcard = *kraken;
  wildcard.add_read_only_post_paths("/0/private/**");
  EXPECT_FALSE(ValidateTemplate(wildcard, "kraken").ok());
  v1::ServiceTemplate unlisted = *kraken;
  v1::Rule* rule = unlisted.mutable_capability()->add_rules();
  rule->set_effect(v1::Rule::ALLOW);
  rule->add_methods("POST");
  rule->set_path("/0/private/AddOrder");
  EXPECT_FALSE(ValidateTemplate(unlisted, "kraken").ok());
  v1::ServiceTemplate put = *kraken;
  put.mutable_capability()->mutable_rules(0)->add_methods("PUT");
  EXPECT_FALSE(ValidateTemplate(put, "kraken").ok());
}

// Explicit DENY rules really deny GET on an example path of theirs.
TEST(CatalogTest, DenyRulesDenyReads) {
  auto all = LoadCatalog();
  ASSERT_TRUE(all.ok()) << all.status();
  for (const auto& t : *all) {
    auto engine = policy::PolicyEngine::Compile(t.capability().rules());
    ASSERT_TRUE(engine.ok()) << t.name();
    for (const auto& rule : t.capability().rules()) {
      if (rule.effect() != v1::Rule::DENY) continue;
      bool covers_get = false;
      for (const auto& m : rule.methods()) covers_get |= m == "*" || m == "GET";
      if (!covers_get) continue;
      std::string path = ExamplePath(rule.path());
      EXPECT_FALSE(engine->CheckRequest("GET", path).allowed)
          << t.name() << " GET " << path;
    }
  }
}

TEST(CatalogTest, OriginsAreHttpsExactHosts) {
  auto all = LoadCatalog();
  ASSERT_TRUE(all.ok()) << all.status();
  for (const auto& t : *all) {
    for (const std::string& origin : t.secret().origins()) {
      EXPECT_EQ(origin.rfind("https://", 0), 0u) << t.name();
      EXPECT_EQ(origin.find('*'), std::string::npos) << t.name();
    }
  }
}

TEST(CatalogTest, SearchMatchesNameTitleKeywordsAndDescription) {
  auto all = LoadCatalog();
  ASSERT_TRUE(all.ok()) << all.status();
  auto names = [&](const std::string& word) {
    std::set<std::string> out;
    for (const auto& t : *all) {
      if (Matches(t, word)) out.insert(t.name());
    }
    return out;
  };
  EXPECT_TRUE(names("GITHUB").count("github"));
  EXPECT_TRUE(names("git").count("gitlab"));
  EXPECT_TRUE(names("payments").count("stripe"));
  EXPECT_TRUE(names("llm").count("openai"));
  EXPECT_TRUE(names("no-such-service-xyz").empty());
}

// A minimal valid template, for the validator's negative cases.
v1::ServiceTemplate Minimal() {
  auto t = ParseTemplate("demo", R"pb(
    name: "demo"
    title: "Demo"
    description: "d"
    keywords: "demo"
    docs_url: "https://example.com/docs"
    secret {
      auth { bearer {} }
      origins: "https://api.example.com"
      prompt: "token"
    }
    capability {
      description: "read"
      rules { effect: ALLOW methods: "GET" path: "/v1/**" }
      rules { effect: DENY methods: "*" path: "/v1/admin/**" }
    }
    health { method: "GET" path: "/v1/me" }
  )pb");
  EXPECT_TRUE(t.ok()) << t.status();
  return *t;
}

TEST(ValidateTest, RefusesWhatWouldBeUnsafeOrBroken) {
  ASSERT_TRUE(ValidateTemplate(Minimal(), "demo").ok());
  EXPECT_FALSE(ValidateTemplate(Minimal(), "other").ok());  // file name
  auto t = Minimal();
  t.mutable_capability()->mutable_rules(0)->add_methods("POST");
  EXPECT_FALSE(ValidateTemplate(t, "demo").ok());  // a write method
  t = Minimal();
  t.mutable_capability()->mutable_rules(0)->set_methods(0, "*");
  EXPECT_FALSE(ValidateTemplate(t, "demo").ok());  // any method
  t = Minimal();
  t.mutable_health()->set_path("/v1/admin/keys");
  EXPECT_FALSE(ValidateTemplate(t, "demo").ok());  // health denied
  t = Minimal();
  t.mutable_secret()->set_origins(0, "http://api.example.com");
  EXPECT_FALSE(ValidateTemplate(t, "demo").ok());  // not https
  t = Minimal();
  t.mutable_secret()->set_origins(0, "https://api.example.com/v1");
  EXPECT_FALSE(ValidateTemplate(t, "demo").ok());  // not an origin
  t = Minimal();
  t.mutable_secret()->mutable_auth()->Clear();
  EXPECT_FALSE(ValidateTemplate(t, "demo").ok());  // no auth scheme
  t = Minimal();
  t.mutable_secret()->mutable_auth()->mutable_header()->set_name("X-Key");
  t.mutable_secret()->mutable_auth()->mutable_header()->set_value_template(
      "token");
  EXPECT_FALSE(ValidateTemplate(t, "demo").ok());  // template w/o {secret}
  t = Minimal();
  t.clear_keywords();
  EXPECT_FALSE(ValidateTemplate(t, "demo").ok());
  t = Minimal();
  t.clear_health();
  EXPECT_FALSE(ValidateTemplate(t, "demo").ok());
  t = Minimal();
  t.mutable_capability()->mutable_rules(0)->set_path("/v1/**/x");
  EXPECT_FALSE(ValidateTemplate(t, "demo").ok()) << "invalid pattern";
  EXPECT_FALSE(ParseTemplate("demo", "name: \"demo\" bogus: 1").ok());
}

TEST(InstantiateTest, AppliesOverrides) {
  AddOptions options;
  options.name = "demo-prod";
  options.origin = "http://127.0.0.1:8080";
  options.agents = {"a1", "a2"};
  auto instance = Instantiate(Minimal(), options);
  ASSERT_TRUE(instance.ok()) << instance.status();
  EXPECT_EQ(instance->secret.id(), "demo-prod");
  ASSERT_EQ(instance->secret.origins_size(), 1);
  EXPECT_EQ(instance->secret.origins(0), "http://127.0.0.1:8080");
  EXPECT_EQ(instance->capability.name(), "demo-prod");
  EXPECT_EQ(instance->capability.secret_id(), "demo-prod");
  EXPECT_EQ(instance->capability.origin(), "http://127.0.0.1:8080");
  EXPECT_EQ(instance->capability.agents_size(), 2);
  EXPECT_TRUE(instance->secret.auth().has_bearer());
  EXPECT_TRUE(instance->secret.value().empty());
}

TEST(InstantiateTest, RefusesBadOverridesAndMissingTenantData) {
  AddOptions bad_name;
  bad_name.name = "Bad Name";
  EXPECT_FALSE(Instantiate(Minimal(), bad_name).ok());
  AddOptions bad_origin;
  bad_origin.origin = "https://api.example.com/path";
  EXPECT_FALSE(Instantiate(Minimal(), bad_origin).ok());
  AddOptions username;
  username.username = "me";
  EXPECT_FALSE(Instantiate(Minimal(), username).ok()) << "not Basic";

  auto tenant = Minimal();
  tenant.mutable_secret()->set_origin_required(true);
  EXPECT_FALSE(Instantiate(tenant, AddOptions()).ok());
  auto basic = Minimal();
  basic.mutable_secret()->mutable_auth()->mutable_basic();
  basic.mutable_secret()->set_username_required(true);
  EXPECT_FALSE(Instantiate(basic, AddOptions()).ok());
  auto with_user = Instantiate(basic, username);
  ASSERT_TRUE(with_user.ok()) << with_user.status();
  EXPECT_EQ(with_user->secret.auth().basic().username(), "me");
}

TEST(InstantiateTest, OperatorFieldsAreRequiredAndSetOnTheScheme) {
  auto t = Minimal();
  t.mutable_secret()->mutable_auth()->mutable_header()->set_name("X-Key");
  t.mutable_secret()->add_operator_fields("value_template");
  ASSERT_TRUE(ValidateTemplate(t, "demo").ok()) << ValidateTemplate(t, "demo");
  EXPECT_FALSE(Instantiate(t, AddOptions()).ok()) << "missing --auth_field";
  AddOptions options;
  options.auth_fields = {{"value_template", "key {secret}"}};
  auto instance = Instantiate(t, options);
  ASSERT_TRUE(instance.ok()) << instance.status();
  EXPECT_EQ(instance->secret.auth().header().value_template(), "key {secret}");
  options.auth_fields = {{"no_such_field", "x"}};
  EXPECT_FALSE(Instantiate(t, options).ok());

  t.mutable_secret()->add_operator_fields("no_such_field");
  EXPECT_FALSE(ValidateTemplate(t, "demo").ok());
}

}  // namespace
}  // namespace latchkey::templates
