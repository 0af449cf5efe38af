#include "broker/broker_config.h"

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "broker/gate_config.h"
#include "common/crypto.h"
#include "common/limits.h"
#include "common/status_macros.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/time_util.h"
#include "re2/re2.h"
#include "rules/header_policy.h"

namespace latchkey::broker {
namespace {

using google::protobuf::util::TimeUtil;

// Collects the first text-format error with its position.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (error_.empty()) {
      error_ = absl::StrCat("line ", line + 1, " column ", column + 1, ": ",
                            message);
    }
  }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

bool IsValidName(absl::string_view name, size_t max) {
  if (name.empty() || name.size() > max) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alnum = absl::ascii_islower(static_cast<unsigned char>(c)) ||
                 absl::ascii_isdigit(static_cast<unsigned char>(c));
    if (!alnum && !(i > 0 && (c == '.' || c == '_' || c == '-'))) return false;
  }
  return true;
}

absl::Status CheckRateLimit(const v1::RateLimit& limit,
                            const std::string& where) {
  if (limit.requests_per_minute() == 0 && limit.burst() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ".burst: set requests_per_minute too (0 means unlimited)"));
  }
  return absl::OkStatus();
}

absl::Duration ToDuration(const google::protobuf::Duration& d,
                          absl::Duration fallback) {
  if (d.seconds() == 0 && d.nanos() == 0) return fallback;
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

// LocateError finds where the entry and field named at the start of a
// Compile error ("capabilities[1] (gh).rules[2]: ...") are in the text and
// returns "line L column C: ", or "" if it cannot tell.
std::string LocateError(const google::protobuf::TextFormat::ParseInfoTree& tree,
                        absl::string_view message) {
  static const LazyRE2 kWhere = {
      R"(^(capabilities|agents)\[(\d+)\] \(.*?\)\.(\w+)(?:\[(\d+)\])?)"};
  std::string list, field;
  int index = 0;
  std::string sub_index;
  if (!RE2::PartialMatch(re2::StringPiece(message.data(), message.size()),
                         *kWhere, &list, &index, &field, &sub_index)) {
    return "";
  }
  const google::protobuf::Descriptor* root = v1::BrokerConfig::descriptor();
  const google::protobuf::FieldDescriptor* list_field =
      root->FindFieldByName(list);
  if (list_field == nullptr) return "";
  google::protobuf::TextFormat::ParseLocation where =
      tree.GetLocation(list_field, index);
  const google::protobuf::TextFormat::ParseInfoTree* entry =
      tree.GetTreeForNested(list_field, index);
  const google::protobuf::FieldDescriptor* inner =
      list_field->message_type()->FindFieldByName(field);
  if (entry != nullptr && inner != nullptr) {
    int inner_index = -1;
    if (inner->is_repeated()) {
      inner_index = sub_index.empty() ? 0 : std::stoi(sub_index);
    }
    google::protobuf::TextFormat::ParseLocation at =
        entry->GetLocation(inner, inner_index);
    if (at.line >= 0) where = at;
  }
  if (where.line < 0) return "";
  return absl::StrCat("line ", where.line + 1, " column ", where.column + 1,
                      ": ");
}

}  // namespace

absl::StatusOr<v1::BrokerConfig> ParseBrokerConfig(absl::string_view text) {
  v1::BrokerConfig config;
  google::protobuf::TextFormat::Parser parser;
  FirstErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &config)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config is not valid: ", errors.error()));
  }
  return config;
}

absl::StatusOr<std::string> ReadFileText(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read config ", path));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    return absl::DataLossError(absl::StrCat("error reading ", path));
  }
  return buffer.str();
}

absl::StatusOr<CompiledConfig> CompileBrokerConfigText(absl::string_view text) {
  CompiledConfig out;
  google::protobuf::TextFormat::Parser parser;
  FirstErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  google::protobuf::TextFormat::ParseInfoTree tree;
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(std::string(text), &out.config)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config is not valid: ", errors.error()));
  }
  absl::StatusOr<std::shared_ptr<const BrokerState>> state =
      BrokerState::Compile(out.config);
  if (!state.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config is not valid: ", LocateError(tree, state.status().message()),
        state.status().message()));
  }
  out.state = *std::move(state);
  return out;
}

absl::StatusOr<v1::BrokerConfig> LoadBrokerConfigFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileText(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<v1::BrokerConfig> config = ParseBrokerConfig(*text);
  if (!config.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

absl::StatusOr<std::shared_ptr<const BrokerState>> BrokerState::Compile(
    const v1::BrokerConfig& config) {
  std::shared_ptr<BrokerState> state(new BrokerState);
  std::set<std::string> agent_names;
  for (int i = 0; i < config.agents_size(); ++i) {
    const v1::Agent& agent = config.agents(i);
    std::string where = absl::StrCat("agents[", i, "] (", agent.name(), ")");
    if (!IsValidName(agent.name(), 64)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".name: must match [a-z0-9][a-z0-9._-]{0,63}"));
    }
    if (!agent_names.insert(agent.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".name: duplicate agent name"));
    }
    absl::StatusOr<std::string> hash = HexDecode(agent.token_sha256());
    if (!hash.ok() || hash->size() != 32) {
      return absl::InvalidArgumentError(absl::StrCat(
          where,
          ".token_sha256: must be 64 hex characters (the SHA-256 of "
          "the agent's token)"));
    }
    LK_RETURN_IF_ERROR(
        CheckRateLimit(agent.rate_limit(), where + ".rate_limit"));
    LK_RETURN_IF_ERROR(CheckRateLimit(agent.session_rate_limit(),
                                      where + ".session_rate_limit"));
    state->agents_.push_back({agent, *hash});
  }
  for (int i = 0; i < config.capabilities_size(); ++i) {
    const v1::Capability& cap = config.capabilities(i);
    std::string where =
        absl::StrCat("capabilities[", i, "] (", cap.name(), ")");
    if (!IsValidName(cap.name(), 64)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".name: must match [a-z0-9][a-z0-9._-]{0,63}"));
    }
    if (state->capabilities_.count(cap.name()) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".name: duplicate capability name"));
    }
    if (cap.secret_id().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".secret_id: is required"));
    }
    LK_RETURN_IF_ERROR(CheckRateLimit(cap.rate_limit(), where + ".rate_limit"));
    LK_RETURN_IF_ERROR(CheckGates(cap, where));
    // Above this, no path carries the body: refuse rather than clamp, so
    // the operator learns the real limit.
    for (const auto& [name, value] :
         {std::pair<const char*, uint64_t>{"max_request_bytes",
                                           cap.limits().max_request_bytes()},
          {"max_response_bytes", cap.limits().max_response_bytes()}}) {
      if (value > kMaxStreamedBodyBytes) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".limits.", name, ": ", value,
                         " is above the most Latchkey passes on (",
                         kMaxStreamedBodyBytes, " bytes, 4 GiB)"));
      }
    }
    absl::StatusOr<Origin> origin = ParseOrigin(cap.origin());
    if (!origin.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".origin: ", origin.status().message()));
    }
    absl::StatusOr<policy::PolicyEngine> engine =
        policy::PolicyEngine::Compile(cap.rules());
    if (!engine.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".", engine.status().message()));
    }
    v1::RequestRules request_rules;
    *request_rules.mutable_rules() = cap.rules();
    request_rules.set_allow_ranges(cap.allow_ranges());
    for (int k = 0; k < cap.allowed_request_headers_size(); ++k) {
      const std::string& name = cap.allowed_request_headers(k);
      google::protobuf::RepeatedPtrField<v1::Header> probe;
      probe.Add()->set_name(name);
      // A name no agent may send stays refused: listing it is a mistake
      // the operator should hear about now, not at the first request.
      v1::RequestRules ranges_on;
      ranges_on.set_allow_ranges(true);
      if (absl::Status ok =
              CheckAgentHeaders(probe, ranges_on, /*streamed=*/true);
          !ok.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ".allowed_request_headers[", k, "]: ", ok.message()));
      }
      request_rules.add_allowed_request_headers(name);
    }
    for (int k = 0; k < cap.agents_size(); ++k) {
      if (agent_names.count(cap.agents(k)) == 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ".agents[", k, "]: no agent named '", cap.agents(k), "'"));
      }
    }
    absl::Duration max_ttl =
        ToDuration(cap.max_session_ttl(), kDefaultMaxSessionTtl);
    absl::Duration default_ttl = std::min(
        ToDuration(cap.default_session_ttl(), kDefaultSessionTtl), max_ttl);
    if (max_ttl <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".max_session_ttl: must be positive"));
    }
    state->capabilities_.emplace(
        cap.name(),
        CompiledCapability{cap, std::move(*engine), *origin, default_ttl,
                           max_ttl, std::move(request_rules)});
  }
  return std::shared_ptr<const BrokerState>(std::move(state));
}

const CompiledCapability* BrokerState::FindCapability(
    absl::string_view name) const {
  auto it = capabilities_.find(std::string(name));
  return it == capabilities_.end() ? nullptr : &it->second;
}

const AgentIdentity* BrokerState::FindAgentByToken(
    absl::string_view token) const {
  std::string hash = Sha256(token);
  const AgentIdentity* found = nullptr;
  for (const AgentIdentity& agent : agents_) {
    if (ConstantTimeEquals(agent.token_hash, hash)) found = &agent;
  }
  return found;
}

const AgentIdentity* BrokerState::FindAgentByName(
    absl::string_view name) const {
  for (const AgentIdentity& agent : agents_) {
    if (agent.config.name() == name) return &agent;
  }
  return nullptr;
}

bool BrokerState::AgentMayUse(const AgentIdentity& agent,
                              const CompiledCapability& capability) {
  for (const std::string& name : capability.config.agents()) {
    if (name == agent.config.name()) return true;
  }
  return false;
}

}  // namespace latchkey::broker
