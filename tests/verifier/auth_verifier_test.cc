// Proves that what the vault puts on the wire is what each provider
// documents, with a judge that shares no code with the vault (issue #18).
//
// The real in-process vault (VaultCore on SQLite, EgressService,
// UpstreamClient on libcurl) sends requests to capture_upstream.py, which
// records them byte for byte; verify.py then recomputes every credential
// from the captured bytes with botocore (SigV4), oauthlib (OAuth 1.0a),
// PyJWT (JWTs) and the exchanges' documented string-to-sign, and checks each
// template against a table written from the provider's documentation.
//
// Runs: every auth scheme x {GET with an awkward query, POST JSON, POST
// form, a path with reserved and UTF-8 characters}, and every template in
// the catalog: its health request and one POST with a JSON body.
// Class guards: a template without an expectation in verify.py, or an
// AuthScheme oneof field without a verifier (or without a case here), fails.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "templates/catalog.h"
#include "tests/process.h"
#include "tests/run_command.h"
#include "vault/egress_service.h"
#include "vault/secret_store.h"
#include "vault/upstream_client.h"
#include "vault/vault_core.h"

namespace latchkey::vault {
namespace {

using nlohmann::json;

constexpr char kOAuth2Token[] = "ya29.verifier-access-token";
constexpr char kGitHubToken[] = "ghs_verifierInstallationToken0";

// Cases that fail today because of bugs being fixed elsewhere. verify.py
// reports them as KNOWN (the test passes) and fails once one passes, so
// the marker is removed with the fix.
const std::map<std::string, std::string>& KnownBugs() {
  // Empty: the Bybit body, Binance form body and S3 reserved-path cases
  // that were listed here pass since the vault signs what it sends.
  static const auto* bugs = new std::map<std::string, std::string>{};
  return *bugs;
}

std::string Slurp(const std::string& path) {
  return testing::ReadFileOrEmpty(path);
}

std::string RunfilePath(const std::string& relative) {
  return absl::StrCat(getenv("TEST_SRCDIR"), "/", getenv("TEST_WORKSPACE"), "/",
                      relative);
}

// PercentDecode decodes a template's raw health query component.
std::string PercentDecode(absl::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() &&
        std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      out += absl::HexStringToBytes(in.substr(i + 1, 2));
      i += 2;
      continue;
    }
    out += in[i];
  }
  return out;
}

int CountLines(const std::string& path) {
  const std::string text = Slurp(path);
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

// One request the agent asks for.
struct AgentRequest {
  std::string method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// The scheme matrix's four requests.
std::vector<std::pair<std::string, AgentRequest>> MatrixRequests() {
  return {
      {"get_query",
       {"GET",
        "/v1/items",
        {{"q", "a b/c"},
         {"reserved", "+=()~!*'"},
         {"utf8", "caf\xC3\xA9 \xC3\xBC\xE2\x82\xAC \xE6\x97\xA5"},
         {"empty", ""}},
        {},
        ""}},
      {"post_json",
       {"POST",
        "/v1/orders",
        {},
        {{"Content-Type", "application/json"}},
        R"({"symbol":"BTCUSDT","qty":"1.5","note":"a b+c/\u00e9"})"}},
      {"post_form",
       {"POST",
        "/v1/orders",
        {},
        {{"Content-Type", "application/x-www-form-urlencoded"}},
        "symbol=BTCUSDT&quantity=1&price=0.1&note=a+b%2Bc"}},
      {"reserved_path", {"GET", "/v1/bucket/k+e=y(1)~!/caf%C3%A9", {}, {}, ""}},
  };
}

class AuthVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/lk-verif-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    dir_ = templ;
    // The GitHub App's RSA key pair (PKCS#1 PEM, as GitHub issues it).
    auto keys = testing::RunCommand(
        {"/bin/sh", "-c",
         absl::StrCat("cd ", dir_,
                      " && openssl genrsa -traditional -out app.pem 2048"
                      " && openssl rsa -in app.pem -pubout -out app.pub")},
        "", absl::Seconds(20));
    ASSERT_EQ(keys.exit_code, 0) << keys.err;
    private_pem_ = Slurp(dir_ + "/app.pem");
    public_pem_ = Slurp(dir_ + "/app.pub");

    capture_ = dir_ + "/capture.jsonl";
    const std::string port_file = dir_ + "/port";
    testing::ChildProcess::Options options;
    options.argv = {
        "/usr/bin/python3", RunfilePath("tests/verifier/capture_upstream.py"),
        "--port-file",      port_file,
        "--record",         capture_,
        "--oauth2-token",   kOAuth2Token,
        "--github-token",   kGitHubToken};
    options.log_path = dir_ + "/upstream.log";
    auto child = testing::ChildProcess::Start(options);
    ASSERT_TRUE(child.ok()) << child.status();
    upstream_ = std::move(*child);
    std::string port;
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (port.empty() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
      port = Slurp(port_file);
    }
    ASSERT_FALSE(port.empty()) << Slurp(options.log_path);
    origin_ = absl::StrCat("http://127.0.0.1:", port);

    auto store = OpenSqliteSecretStore(dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    VaultCoreOptions core_options;
    core_options.scrypt = {1024, 8, 1};
    core_options.background_rewrap = false;
    core_ = std::make_unique<VaultCore>(std::move(*store), core_options);
    auto init = core_->Init(v1::InitRequest());
    ASSERT_TRUE(init.ok()) << init.status();
    for (int i : {0, 1, 2}) {
      v1::UnsealRequest unseal;
      unseal.set_key(init->unseal_keys(i));
      ASSERT_TRUE(core_->Unseal(unseal).ok());
    }
    egress_ = std::make_unique<EgressService>(core_.get(), &client_, nullptr);
  }

  void TearDown() override {
    egress_.reset();
    core_.reset();
    upstream_.reset();
    // LK_VERIFIER_KEEP=1 keeps the capture and spec to rerun verify.py.
    if (!::testing::Test::HasFailure() &&
        getenv("LK_VERIFIER_KEEP") == nullptr) {
      std::system(("rm -rf " + dir_).c_str());
    } else {
      std::cerr << "capture and spec kept in " << dir_ << "\n";
    }
  }

  // SecretFor returns a test secret of the shape the scheme expects: for a
  // multi-part secret, a JSON object with the scheme's secret in
  // secret_field and a value for every other part.
  std::string SecretFor(const v1::AuthScheme& auth, const std::string& name) {
    if (!auth.secret_field().empty()) {
      v1::AuthScheme single = auth;
      single.clear_secret_field();
      single.clear_secret_headers();
      json parts = {{auth.secret_field(), SecretFor(single, name)}};
      for (const v1::SecretHeader& header : auth.secret_headers()) {
        parts[header.field()] = "lkvPart" + header.field() + "0123456789ab";
      }
      return parts.dump();
    }
    std::string word = name;
    std::replace(word.begin(), word.end(), '-', '_');
    switch (auth.scheme_case()) {
      case v1::AuthScheme::kHmac:
        if (auth.hmac().secret_is_base64()) {
          return absl::Base64Escape(
              "verifier-hmac-key-material-0123456789-abcdefghijklmnopqrstu");
        }
        return "lkvHmacSecret" + word +
               "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN";
      case v1::AuthScheme::kAwsSigv4:
        return json{
            {"access_key_id", "AKIAVERIFIEREXAMPLE"},
            {"secret_access_key", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYVERIFIERKEY"}}
            .dump();
      case v1::AuthScheme::kGithubApp:
        return private_pem_;
      case v1::AuthScheme::kOauth2: {
        if (auth.oauth2().grant() == "jwt_bearer") {
          // A Google service-account key file (the driver's RSA key, whose
          // public half the verifier checks the assertion with).
          return json{{"type", "service_account"},
                      {"project_id", "verifier-project"},
                      {"private_key_id", "0123456789abcdef"},
                      {"private_key", private_pem_},
                      {"client_email",
                       "verifier@verifier-project.iam.gserviceaccount.com"},
                      {"client_id", "112233445566778899"},
                      {"token_uri", "https://oauth2.googleapis.com/token"}}
              .dump();
        }
        json secret = {{"client_secret", "GOCSPX-verifierClientSecret01"}};
        if (auth.oauth2().grant() == "refresh_token") {
          secret["refresh_token"] = "1//verifierRefreshToken0123456789";
        }
        return secret.dump();
      }
      case v1::AuthScheme::kKraken:
        return absl::Base64Escape(
            "verifier-kraken-private-key-material-0123456789-abcdefghijklmnop");
      case v1::AuthScheme::kOauth1:
        return json{{"consumer_secret", "kd94hf93k423kf44"},
                    {"token_secret", "pfkkdhi9sl3r4s00"}}
            .dump();
      default:
        return "lkv_" + word + "_S3cretValue0123456789";
    }
  }

  // RunCase stores the secret, sends one request through the vault's
  // egress and adds the case (with the capture records it produced) to
  // the spec.
  void RunCase(const std::string& id, const std::string& kind,
               v1::PutSecretRequest put, const AgentRequest& request,
               json extra) {
    SCOPED_TRACE(id);
    put.set_id("verifier");
    auto stored = core_->PutSecret(put);
    ASSERT_TRUE(stored.ok()) << id << ": " << stored.status();
    v1::VaultExecuteRequest execute;
    execute.mutable_limits()->set_max_redirects(0);
    // The vault checks headers and redirect hops against the capability's
    // rules; broker rules (methods, paths) are the broker's job.
    v1::Rule* rule = execute.mutable_rules()->add_rules();
    rule->set_effect(v1::Rule::ALLOW);
    rule->add_methods("*");
    rule->set_path("/**");
    execute.set_request_id(id);
    execute.set_secret_id("verifier");
    execute.set_origin(origin_);
    execute.set_method(request.method);
    execute.set_path(request.path);
    for (const auto& [name, value] : request.query) {
      v1::QueryParam* param = execute.add_query();
      param->set_name(name);
      param->set_value(value);
    }
    for (const auto& [name, value] : request.headers) {
      v1::Header* header = execute.add_headers();
      header->set_name(name);
      header->set_value(value);
    }
    execute.set_body(request.body);
    const int before = CountLines(capture_);
    auto reply = egress_->ExecuteChecked(execute);
    const int after = CountLines(capture_);

    json spec_case = extra;
    spec_case["id"] = id;
    spec_case["kind"] = kind;
    std::string config;
    google::protobuf::util::JsonPrintOptions print;
    print.preserve_proto_field_names = true;
    ASSERT_TRUE(
        google::protobuf::util::MessageToJsonString(put.auth(), &config, print)
            .ok());
    spec_case["config"] = json::parse(config);
    spec_case["secret"] = put.value();
    if (put.auth().has_basic()) {
      spec_case["username"] = put.auth().basic().username();
    }
    spec_case["public_key_pem"] = public_pem_;
    spec_case["issued_token"] =
        put.auth().has_github_app() ? kGitHubToken : kOAuth2Token;
    json query = json::array(), headers = json::array();
    for (const auto& [n, v] : request.query) query.push_back({n, v});
    for (const auto& [n, v] : request.headers) headers.push_back({n, v});
    spec_case["request"] = {{"method", request.method},
                            {"path", request.path},
                            {"query", query},
                            {"headers", headers},
                            {"body_b64", absl::Base64Escape(request.body)}};
    spec_case["seq"] = {before + 1, after};
    if (!reply.ok()) {
      spec_case["vault_error"] = reply.status().ToString();
    } else if (!reply->upstream_error().empty() ||
               !reply->refusal_message().empty()) {
      spec_case["vault_error"] =
          reply->upstream_error() + reply->refusal_message();
    }
    auto bug = KnownBugs().find(id);
    if (bug != KnownBugs().end()) spec_case["known_bug"] = bug->second;
    spec_["cases"].push_back(spec_case);
  }

  v1::PutSecretRequest Bound(const v1::AuthScheme& auth,
                             const std::string& value) {
    v1::PutSecretRequest put;
    *put.mutable_auth() = auth;
    put.set_value(value);
    put.add_origins(origin_);
    put.add_internal_origins(origin_);  // loopback: marked internal
    return put;
  }

  // Verify runs verify.py on a capture and a spec.
  testing::CommandResult Verify(const std::string& capture, const json& spec,
                                const std::string& spec_name) {
    const std::string spec_path = dir_ + "/" + spec_name;
    std::ofstream(spec_path) << spec.dump(1);
    auto result = testing::RunCommand(
        {"/usr/bin/python3", RunfilePath("tests/verifier/verify.py"),
         "--capture", capture, "--spec", spec_path},
        "", absl::Seconds(20));
    EXPECT_FALSE(result.timed_out) << spec_name;
    return result;
  }

  // RunVerifier judges what was captured; its report is the failure
  // message. Then it shows that the judge can fail: without the known-bug
  // markers, and on a capture with one credential byte changed.
  void RunVerifier(
      const std::string& tampered_case = "scheme/bearer/get_query") {
    auto result = Verify(capture_, spec_, "spec.json");
    std::cout << result.out << result.err;
    EXPECT_EQ(result.exit_code, 0)
        << "verify.py found problems (capture and spec in " << dir_ << "):\n"
        << result.out << result.err;

    json unmarked = spec_;
    int markers = 0;
    for (json& c : unmarked["cases"]) markers += c.erase("known_bug");
    if (markers > 0) {
      auto strict = Verify(capture_, unmarked, "spec-unmarked.json");
      EXPECT_EQ(strict.exit_code, 1) << strict.out << strict.err;
      for (const auto& [id, bug] : KnownBugs()) {
        EXPECT_TRUE(absl::StrContains(strict.out, "FAIL    " + id))
            << id << " no longer fails without its marker: remove it from "
            << "KnownBugs()";
      }
    }

    // A tampered capture: the bearer token of one request, one byte off.
    std::string tampered;
    for (absl::string_view line :
         absl::StrSplit(Slurp(capture_), '\n', absl::SkipEmpty())) {
      json record = json::parse(line);
      for (json& header : record["headers"]) {
        std::string value = header[1];
        if (absl::StartsWith(value, "Bearer lkv_bearer")) {
          value.back() = value.back() == 'x' ? 'y' : 'x';
          header[1] = value;
        }
      }
      tampered += record.dump() + "\n";
    }
    std::ofstream(dir_ + "/tampered.jsonl") << tampered;
    auto caught = Verify(dir_ + "/tampered.jsonl", spec_, "spec.json");
    EXPECT_EQ(caught.exit_code, 1) << caught.out;
    EXPECT_TRUE(absl::StrContains(caught.out, "FAIL    " + tampered_case))
        << caught.out;
  }

  std::string dir_;
  std::string capture_;
  std::string origin_;
  std::string private_pem_;
  std::string public_pem_;
  std::unique_ptr<testing::ChildProcess> upstream_;
  UpstreamClient client_;
  std::unique_ptr<VaultCore> core_;
  std::unique_ptr<EgressService> egress_;
  json spec_ = {{"cases", json::array()},
                {"templates", json::array()},
                {"schemes", json::array()}};
};

// The scheme matrix: one or more configurations per AuthScheme field.
// The verifier name picks verify.py's judge when it is not the field's
// own (the hmac scheme configured as an exchange is judged by that
// exchange's documented recipe).
struct SchemeVariant {
  std::string variant;
  std::string verifier;  // "" : SCHEME_VERIFIERS[field]
  v1::AuthScheme auth;
};

std::vector<SchemeVariant> SchemeVariants(const std::string& origin) {
  std::vector<SchemeVariant> out;
  auto add = [&](const std::string& variant, const std::string& verifier,
                 const std::function<void(v1::AuthScheme*)>& fill) {
    SchemeVariant v{variant, verifier, {}};
    fill(&v.auth);
    out.push_back(v);
  };
  add("bearer", "", [](v1::AuthScheme* a) { a->mutable_bearer(); });
  add("header", "", [](v1::AuthScheme* a) {
    a->mutable_header()->set_name("X-Api-Key");
    a->mutable_header()->set_value_template("Key {secret}");
  });
  add("basic", "", [](v1::AuthScheme* a) {
    a->mutable_basic()->set_username("verifier-user");
  });
  add("query_param", "",
      [](v1::AuthScheme* a) { a->mutable_query_param()->set_name("api_key"); });
  add("hmac", "", [](v1::AuthScheme* a) {
    auto* h = a->mutable_hmac();
    h->set_signature_header("X-Signature");
    h->set_timestamp_header("X-Timestamp");
    h->set_key_id("kid-1");
    h->set_key_id_header("X-Api-Key");
  });
  add("hmac-all-placeholders", "", [](v1::AuthScheme* a) {
    auto* h = a->mutable_hmac();
    h->set_canonical_template(
        "{nonce}\n{timestamp}\n{method}\n{path}\n{query}\n{body_sha256}\n{"
        "key_id}");
    h->set_signature_header("X-Signature");
    h->set_timestamp_header("X-Timestamp");
    h->set_nonce_header("X-Nonce");
    h->set_key_id("kid-2");
    h->set_key_id_header("X-Key");
    h->set_algorithm("sha512");
    h->set_encoding("base64");
    h->set_timestamp_unit("ms");
    h->set_secret_is_base64(true);
  });
  // The exchange and multi-part templates' own configurations (read from
  // the catalog, so they cannot drift), judged by the providers' docs.
  auto from_template = [&](const std::string& variant,
                           const std::string& verifier,
                           const std::string& name) {
    auto catalog = templates::LoadCatalog();
    const v1::ServiceTemplate* t =
        catalog.ok() ? templates::Find(*catalog, name) : nullptr;
    EXPECT_NE(t, nullptr) << name;
    if (t == nullptr) return;
    add(variant, verifier, [&](v1::AuthScheme* a) {
      *a = t->secret().auth();
      if (a->has_hmac()) a->mutable_hmac()->set_key_id("vkApiKey0123456789");
    });
  };
  from_template("hmac-binance", "binance", "binance");
  from_template("hmac-bybit", "bybit", "bybit");
  from_template("hmac-mexc", "mexc", "mexc");
  from_template("hmac-okx", "okx", "okx");
  from_template("hmac-coinbase", "coinbase_exchange", "coinbase-exchange");
  add("header-multi-part", "headers", [](v1::AuthScheme* a) {
    a->mutable_header()->set_name("DD-API-KEY");
    a->set_secret_field("api_key");
    v1::SecretHeader* app = a->add_secret_headers();
    app->set_name("DD-APPLICATION-KEY");
    app->set_field("application_key");
  });
  add("kraken", "", [](v1::AuthScheme* a) {
    a->mutable_kraken()->set_key_id("vkKrakenApiKey0123456789");
  });
  add("aws_sigv4", "", [](v1::AuthScheme* a) {
    a->mutable_aws_sigv4()->set_region("eu-west-2");
    a->mutable_aws_sigv4()->set_service("execute-api");
  });
  add("aws_sigv4-s3", "", [](v1::AuthScheme* a) {
    a->mutable_aws_sigv4()->set_region("us-east-1");
    a->mutable_aws_sigv4()->set_service("s3");
    a->mutable_aws_sigv4()->set_unsigned_payload(true);
  });
  add("github_app", "", [&](v1::AuthScheme* a) {
    a->mutable_github_app()->set_app_id("424242");
    a->mutable_github_app()->set_installation_id("4242");
    a->mutable_github_app()->set_api_origin(origin);
  });
  add("oauth2", "", [&](v1::AuthScheme* a) {
    auto* o = a->mutable_oauth2();
    o->set_token_url(origin + "/oauth/token");
    o->set_client_id("verifier client+id");
    o->add_scopes("read");
    o->add_scopes("write:all");
    o->set_audience("https://api.example.com/");
  });
  add("oauth2-refresh-post", "", [&](v1::AuthScheme* a) {
    auto* o = a->mutable_oauth2();
    o->set_token_url(origin + "/token");
    o->set_client_id("verifier-client.apps.googleusercontent.com");
    o->set_grant("refresh_token");
    o->set_client_auth("post");
  });
  // RFC 7523 as Google documents it for service accounts.
  add("oauth2-jwt-bearer", "google_jwt_bearer", [&](v1::AuthScheme* a) {
    auto* o = a->mutable_oauth2();
    o->set_token_url(origin + "/token");
    o->set_grant("jwt_bearer");
    o->add_scopes("https://www.googleapis.com/auth/drive.readonly");
    o->set_subject("alice@example.com");
  });
  add("oauth1", "", [](v1::AuthScheme* a) {
    a->mutable_oauth1()->set_consumer_key("dpf43f3p2l4k3l03");
    a->mutable_oauth1()->set_token("nnch734d00sl2jdk");
    a->mutable_oauth1()->set_realm("Photos");
  });
  return out;
}

// CaseExtra is what the judge needs to know about one variant's request
// beyond the wire: which verifier, its parameters, and the refusals the
// scheme documents.
json CaseExtra(const SchemeVariant& v, const std::string& request_name,
               const AgentRequest& request) {
  json extra = json::object();
  if (!v.verifier.empty()) extra["verifier"] = v.verifier;
  if (v.verifier == "headers") {
    extra["params"] = {{"fields",
                        {{"DD-API-KEY", "api_key"},
                         {"DD-APPLICATION-KEY", "application_key"}}}};
  }
  // Kraken documents signing POSTs with a form body only: anything else is
  // refused before a byte is sent.
  if (v.auth.has_kraken() && request.method != "POST") {
    extra["expect_refused"] = "signs POST requests only";
  } else if (v.auth.has_kraken() && request_name == "post_json") {
    extra["expect_refused"] = "signs a form body";
  }
  return extra;
}

TEST_F(AuthVerifierTest, WireMatchesProviderDocumentation) {
  // Every field of the AuthScheme oneof, for verify.py's guard, and here:
  // each must have at least one variant in the matrix.
  const google::protobuf::OneofDescriptor* oneof =
      v1::AuthScheme::descriptor()->FindOneofByName("scheme");
  ASSERT_NE(oneof, nullptr);
  const std::vector<SchemeVariant> variants = SchemeVariants(origin_);
  for (int i = 0; i < oneof->field_count(); ++i) {
    const std::string field = oneof->field(i)->name();
    spec_["schemes"].push_back(field);
    bool covered = false;
    for (const SchemeVariant& v : variants) {
      const auto* set =
          v.auth.GetReflection()->GetOneofFieldDescriptor(v.auth, oneof);
      covered = covered || (set != nullptr && set->name() == field);
    }
    EXPECT_TRUE(covered) << "AuthScheme." << field
                         << " has no variant in SchemeVariants()";
  }

  for (const SchemeVariant& v : variants) {
    for (const auto& [request_name, request] : MatrixRequests()) {
      RunCase(absl::StrCat("scheme/", v.variant, "/", request_name), "scheme",
              Bound(v.auth, SecretFor(v.auth, v.variant)), request,
              CaseExtra(v, request_name, request));
    }
  }

  // Every template in the catalog, as `latchkeyctl add` instantiates it,
  // with the origin pointed at the capturing upstream.
  auto catalog = templates::LoadCatalog();
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  const std::map<std::string, std::string> operator_values = {
      {"key_id", "vkApiKey0123456789"},
      {"app_id", "424242"},
      {"installation_id", "4242"},
      {"client_id", "verifier-client.apps.googleusercontent.com"},
  };
  const std::map<std::string, std::string> usernames = {
      {"twilio", "ACverifier0123456789abcdef01234567"},
      {"zendesk", "verifier@example.com/token"},
  };
  for (const v1::ServiceTemplate& t : *catalog) {
    SCOPED_TRACE(t.name());
    spec_["templates"].push_back(t.name());
    templates::AddOptions options;
    options.origin = origin_;
    options.origin_internal = true;
    if (t.secret().username_required()) {
      auto it = usernames.find(t.name());
      options.username =
          it != usernames.end() ? it->second : "verifier@example.com";
    }
    for (const std::string& field : t.secret().operator_fields()) {
      auto it = operator_values.find(field);
      ASSERT_NE(it, operator_values.end())
          << t.name() << " needs operator field " << field
          << ": give it a test value in operator_values";
      options.auth_fields.emplace_back(field, it->second);
    }
    // Token endpoints on the capturing upstream, at the template's path.
    if (t.secret().auth().has_oauth2()) {
      const std::string& url = t.secret().auth().oauth2().token_url();
      const size_t path = url.find('/', url.find("://") + 3);
      options.auth_fields.emplace_back(
          "token_url",
          origin_ + (path == std::string::npos ? "/" : url.substr(path)));
    }
    if (t.secret().auth().has_github_app()) {
      options.auth_fields.emplace_back("api_origin", origin_);
    }
    auto instance = templates::Instantiate(t, options);
    ASSERT_TRUE(instance.ok()) << instance.status();
    v1::PutSecretRequest put = instance->secret;
    put.set_value(SecretFor(put.auth(), t.name()));

    AgentRequest health{
        t.health().method().empty() ? "GET" : t.health().method(),
        t.health().path(),
        {},
        {},
        ""};
    for (absl::string_view part :
         absl::StrSplit(t.health().query(), '&', absl::SkipEmpty())) {
      std::pair<std::string, std::string> kv =
          absl::StrSplit(part, absl::MaxSplits('=', 1));
      health.query.emplace_back(PercentDecode(kv.first),
                                PercentDecode(kv.second));
    }
    RunCase(absl::StrCat("template/", t.name(), "/health"), "template", put,
            health, {{"template", t.name()}});
    // Kraken's API takes form bodies only; every other write is JSON.
    const bool form = put.auth().has_kraken();
    AgentRequest write{
        "POST",
        t.health().path(),
        {},
        {{"Content-Type",
          form ? "application/x-www-form-urlencoded" : "application/json"}},
        form ? "asset=XBT&note=latchkey+verifier"
             : R"({"name":"latchkey verifier","n":1})"};
    RunCase(absl::StrCat("template/", t.name(), "/write"), "template", put,
            write, {{"template", t.name()}});
  }

  RunVerifier();
}

// The judges themselves (OKX, Coinbase Exchange, Kraken, MEXC, Datadog's
// two keys, Google's JWT-bearer grant) on synthetic wires, independent of
// the vault: the providers' published test vectors pass, and a wire with
// one credential byte changed fails.
TEST(AuthVerifierSelfTest, VerifiersAgreeWithPublishedVectors) {
  auto result = testing::RunCommand(
      {"/usr/bin/python3", RunfilePath("tests/verifier/verify.py"),
       "--selftest"},
      "", absl::Seconds(30));
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_TRUE(absl::StrContains(result.out, "ok      selftest kraken"))
      << result.out;
}

}  // namespace
}  // namespace latchkey::vault

namespace latchkey::vault {
namespace {

// HTTP/2 upstreams: nginx on loopback with TLS (a CA made here) and h2,
// forwarding each request as received to the capturing server. The vault
// (libcurl) negotiates h2 by ALPN; nginx's log proves every request came
// in as HTTP/2.0, refuses any whose stated length does not match its DATA
// frames, and the same independent judge checks the signatures on what
// nginx passed on unchanged (path, query, headers, body).
TEST_F(AuthVerifierTest, Http2UpstreamGetsWhatWasSigned) {
  const std::string d = dir_;
  auto made = testing::RunCommand(
      {"/bin/sh", "-c",
       absl::StrCat(
           "cd ", d,
           " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key "
           "-out ca.crt -days 1 -subj /CN=lk-h2-ca "
           "&& openssl req -newkey rsa:2048 -nodes -keyout h2.key -out h2.csr "
           "-subj /CN=127.0.0.1 && printf 'subjectAltName=IP:127.0.0.1\\n' > "
           "san.ext && openssl x509 -req -in h2.csr -CA ca.crt -CAkey ca.key "
           "-CAcreateserial -out h2.crt -days 1 -extfile san.ext")},
      "", absl::Seconds(30));
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const int port = 20000 + getpid() % 20000;
  const std::string capture_port = origin_.substr(origin_.rfind(':') + 1);
  std::ofstream(d + "/nginx.conf") << absl::StrCat(
      "worker_processes 1; user root; daemon off; pid ", d,
      "/nginx.pid; error_log ", d,
      "/nginx-error.log;\nevents { worker_connections 64; }\nhttp {\n"
      "  log_format proto '$server_protocol $request_method $status';\n"
      "  access_log ",
      d, "/access.log proto;\n  client_body_temp_path ", d,
      ";\n  proxy_temp_path ", d, ";\n  server {\n    listen 127.0.0.1:", port,
      " ssl http2;\n    ssl_certificate ", d,
      "/h2.crt;\n    ssl_certificate_key ", d,
      "/h2.key;\n    location / {\n      proxy_pass http://127.0.0.1:",
      capture_port,
      ";\n      proxy_http_version 1.1;\n"
      "      proxy_set_header Connection \"\";\n"
      "      proxy_set_header Host $host:$server_port;\n    }\n  }\n}\n");
  testing::ChildProcess::Options options;
  options.argv = {"/usr/sbin/nginx", "-c", d + "/nginx.conf", "-p", d};
  options.log_path = d + "/nginx.log";
  auto nginx = testing::ChildProcess::Start(options);
  ASSERT_TRUE(nginx.ok()) << nginx.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (Slurp(d + "/nginx.pid").empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_FALSE(Slurp(d + "/nginx.pid").empty())
      << Slurp(d + "/nginx-error.log");

  origin_ = absl::StrCat("https://127.0.0.1:", port);
  const std::string ca = Slurp(d + "/ca.crt");
  int cases = 0;
  for (const SchemeVariant& v : SchemeVariants(origin_)) {
    if (v.variant != "bearer" && v.variant != "hmac-okx" &&
        v.variant != "aws_sigv4" && v.variant != "aws_sigv4-s3" &&
        v.variant != "header-multi-part") {
      continue;
    }
    for (const auto& [request_name, request] : MatrixRequests()) {
      v1::PutSecretRequest put = Bound(v.auth, SecretFor(v.auth, v.variant));
      put.set_ca_bundle_pem(ca);
      RunCase(absl::StrCat("h2/", v.variant, "/", request_name), "scheme", put,
              request, CaseExtra(v, request_name, request));
      ++cases;
    }
  }
  ASSERT_EQ(cases, 20);
  RunVerifier("h2/bearer/get_query");
  nginx->reset();
  std::vector<std::string> lines =
      absl::StrSplit(Slurp(d + "/access.log"), '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), 20u) << Slurp(d + "/nginx-error.log");
  for (const std::string& line : lines) {
    EXPECT_TRUE(absl::StartsWith(line, "HTTP/2.0 ")) << line;
    EXPECT_TRUE(absl::EndsWith(line, " 200")) << line;
  }
}

}  // namespace
}  // namespace latchkey::vault
