#include "ctl/auth_flags.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

ABSL_FLAG(std::string, auth, "",
          "secret put: auth scheme (bearer, header, basic, query_param, hmac, "
          "aws_sigv4, github_app, oauth2, oauth1, kraken)");
ABSL_FLAG(std::string, auth_config, "",
          "secret put: the scheme's config as 'field=value;field=value' "
          "(fields of its message in proto/vault.proto)");
ABSL_FLAG(std::string, secret_field, "",
          "secret put: the value is a JSON object (a multi-part secret) and "
          "the scheme uses this field, e.g. secret_key");
ABSL_FLAG(std::vector<std::string>, secret_header, {},
          "secret put: NAME=FIELD sends another field of a multi-part "
          "secret as header NAME, e.g. OK-ACCESS-PASSPHRASE=passphrase");
ABSL_FLAG(std::string, ca_bundle, "",
          "secret put: PEM file of extra CA certificates for its origins");

namespace latchkey::ctl {

using google::protobuf::FieldDescriptor;

absl::Status ApplyAuthFlags(v1::PutSecretRequest* request) {
  const std::string scheme = absl::GetFlag(FLAGS_auth);
  const std::string config = absl::GetFlag(FLAGS_auth_config);
  if (!absl::GetFlag(FLAGS_ca_bundle).empty()) {
    std::ifstream in(absl::GetFlag(FLAGS_ca_bundle));
    if (!in) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot read --ca_bundle file ", absl::GetFlag(FLAGS_ca_bundle)));
    }
    std::stringstream pem;
    pem << in.rdbuf();
    request->set_ca_bundle_pem(pem.str());
  }
  if (!absl::GetFlag(FLAGS_secret_field).empty()) {
    request->mutable_auth()->set_secret_field(
        absl::GetFlag(FLAGS_secret_field));
  }
  for (const std::string& header : absl::GetFlag(FLAGS_secret_header)) {
    const size_t eq = header.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(
          "--secret_header takes NAME=FIELD, e.g. "
          "OK-ACCESS-PASSPHRASE=passphrase");
    }
    v1::SecretHeader* part = request->mutable_auth()->add_secret_headers();
    part->set_name(header.substr(0, eq));
    part->set_field(header.substr(eq + 1));
  }
  if (scheme.empty()) {
    if (!config.empty()) {
      return absl::InvalidArgumentError("--auth_config needs --auth=SCHEME");
    }
    return absl::OkStatus();
  }
  google::protobuf::Message* auth = request->mutable_auth();
  const FieldDescriptor* oneof_field =
      auth->GetDescriptor()->FindFieldByName(scheme);
  if (oneof_field == nullptr || oneof_field->containing_oneof() == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown --auth=", scheme,
        "; use bearer, header, basic, query_param, hmac, aws_sigv4, "
        "github_app, oauth2, oauth1 or kraken"));
  }
  google::protobuf::Message* message =
      auth->GetReflection()->MutableMessage(auth, oneof_field);
  for (absl::string_view pair :
       absl::StrSplit(config, ';', absl::SkipEmpty())) {
    std::pair<std::string, std::string> nv =
        absl::StrSplit(pair, absl::MaxSplits('=', 1));
    const FieldDescriptor* field =
        message->GetDescriptor()->FindFieldByName(nv.first);
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--auth=", scheme, " has no field '", nv.first, "'; see message ",
          message->GetDescriptor()->name(), " in proto/vault.proto"));
    }
    const auto* reflection = message->GetReflection();
    if (field->type() == FieldDescriptor::TYPE_BOOL) {
      reflection->SetBool(message, field, nv.second == "true");
    } else if (field->type() != FieldDescriptor::TYPE_STRING) {
      return absl::InvalidArgumentError(
          absl::StrCat("field '", nv.first, "' cannot be set from the CLI"));
    } else if (field->is_repeated()) {
      reflection->AddString(message, field, nv.second);
    } else {
      reflection->SetString(message, field, nv.second);
    }
  }
  return absl::OkStatus();
}

}  // namespace latchkey::ctl
