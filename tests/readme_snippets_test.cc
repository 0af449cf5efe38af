// Checks the MCP client configuration snippets in README.md: every ```json
// block parses, each client named in "Connect an MCP client" has one, every
// mcpServers entry has a command and string args that name the broker
// socket, and no entry carries the agent token (or anything token-shaped)
// in args or env.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "re2/re2.h"

namespace latchkey::testing {
namespace {

using nlohmann::json;

struct Block {
  std::string language;
  std::string text;
  int line = 0;         // 1-based line of the opening fence.
  std::string heading;  // The nearest heading above it.
};

std::string ReadReadme() {
  std::ifstream in("README.md");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<Block> FencedBlocks(const std::string& markdown) {
  std::vector<Block> blocks;
  std::vector<std::string> lines = absl::StrSplit(markdown, '\n');
  std::string heading;
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::string_view line = lines[i];
    if (absl::StartsWith(line, "#")) {
      size_t text = line.find_first_not_of('#');
      heading =
          text == absl::string_view::npos
              ? std::string()
              : std::string(absl::StripAsciiWhitespace(line.substr(text)));
      continue;
    }
    if (!absl::StartsWith(line, "```")) continue;
    Block block;
    block.language = std::string(absl::StripAsciiWhitespace(line.substr(3)));
    block.line = static_cast<int>(i) + 1;
    block.heading = heading;
    for (++i; i < lines.size() && !absl::StartsWith(lines[i], "```"); ++i) {
      block.text += lines[i] + "\n";
    }
    blocks.push_back(std::move(block));
  }
  return blocks;
}

// TokenProblem says why `text` (one arg or env entry) looks like it
// carries a credential; empty when it does not.
std::string TokenProblem(const std::string& text) {
  static const RE2 kTokenFlag(
      R"((?i)--(agent_)?(token|secret|key|password)(=|$))");
  static const RE2 kAgentToken(R"(lk_agent_)");
  // A long run of key-like characters that is not part of a path.
  static const RE2 kLongOpaque(R"((^|[=:\s])[A-Za-z0-9_+\-]{32,}={0,2}($|\s))");
  if (RE2::PartialMatch(text, kTokenFlag)) return "a token flag";
  if (RE2::PartialMatch(text, kAgentToken)) return "an agent token";
  if (RE2::PartialMatch(text, kLongOpaque)) return "a token-like string";
  return "";
}

// ServerProblems lists what is wrong with one mcpServers entry.
std::vector<std::string> ServerProblems(const std::string& name,
                                        const json& server) {
  std::vector<std::string> problems;
  auto add = [&](const std::string& what) {
    problems.push_back(name + ": " + what);
  };
  if (!server.is_object()) {
    add("not an object");
    return problems;
  }
  if (!server.contains("command") || !server["command"].is_string() ||
      server["command"].get<std::string>().empty()) {
    add("no command");
  }
  if (!server.contains("args") || !server["args"].is_array()) {
    add("no args array");
  } else {
    bool broker_socket = false;
    for (const json& arg : server["args"]) {
      if (!arg.is_string()) {
        add("an argument is not a string");
        continue;
      }
      const std::string text = arg.get<std::string>();
      if (absl::StartsWith(text, "--broker_socket=")) broker_socket = true;
      std::string problem = TokenProblem(text);
      if (!problem.empty()) add("args carry " + problem + ": " + text);
    }
    if (!broker_socket) add("no --broker_socket= argument");
  }
  if (server.contains("env")) {
    if (!server["env"].is_object()) {
      add("env is not an object");
    } else {
      for (const auto& [key, value] : server["env"].items()) {
        std::string upper = key;
        for (char& c : upper) c = static_cast<char>(toupper(c));
        if (absl::StrContains(upper, "TOKEN") ||
            absl::StrContains(upper, "SECRET") ||
            absl::StrContains(upper, "KEY") ||
            absl::StrContains(upper, "PASSWORD")) {
          add("env sets " + key);
        }
        if (value.is_string()) {
          std::string problem = TokenProblem(value.get<std::string>());
          if (!problem.empty()) add("env " + key + " carries " + problem);
        }
      }
    }
  }
  return problems;
}

class ReadmeSnippetsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    readme_ = ReadReadme();
    ASSERT_FALSE(readme_.empty()) << "README.md not found in runfiles";
    for (Block& block : FencedBlocks(readme_)) {
      if (block.language == "json") json_blocks_.push_back(std::move(block));
    }
  }

  std::string readme_;
  std::vector<Block> json_blocks_;
};

TEST_F(ReadmeSnippetsTest, EveryJsonBlockParses) {
  ASSERT_FALSE(json_blocks_.empty());
  for (const Block& block : json_blocks_) {
    json parsed = json::parse(block.text, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(parsed.is_discarded())
        << "README.md:" << block.line << ": not valid JSON:\n"
        << block.text;
  }
}

TEST_F(ReadmeSnippetsTest, EachClientHasAConfiguration) {
  for (const char* client :
       {"Claude Desktop", "Claude Code", "Cursor", "Any other MCP client"}) {
    bool found = false;
    for (const Block& block : json_blocks_) {
      if (block.heading != client) continue;
      json parsed = json::parse(block.text, nullptr, false);
      if (!parsed.is_discarded() && parsed.contains("mcpServers")) {
        found = true;
      }
    }
    EXPECT_TRUE(found) << "no ```json block with mcpServers under \"### "
                       << client << "\"";
  }
}

TEST_F(ReadmeSnippetsTest, EveryServerHasCommandArgsAndNoToken) {
  int servers = 0;
  for (const Block& block : json_blocks_) {
    json parsed = json::parse(block.text, nullptr, false);
    if (parsed.is_discarded() || !parsed.contains("mcpServers")) continue;
    ASSERT_TRUE(parsed["mcpServers"].is_object()) << "README.md:" << block.line;
    for (const auto& [name, server] : parsed["mcpServers"].items()) {
      ++servers;
      for (const std::string& problem : ServerProblems(name, server)) {
        ADD_FAILURE() << "README.md:" << block.line << ": " << problem;
      }
    }
  }
  EXPECT_GE(servers, 4);
}

TEST_F(ReadmeSnippetsTest, ShellSnippetsPassNoToken) {
  // `claude mcp add ...` lines must not carry the token either.
  for (const Block& block : FencedBlocks(readme_)) {
    if (block.language != "sh") continue;
    for (absl::string_view line : absl::StrSplit(block.text, '\n')) {
      if (!absl::StrContains(line, "mcp add")) continue;
      for (absl::string_view word : absl::StrSplit(line, ' ')) {
        EXPECT_EQ(TokenProblem(std::string(word)), "")
            << "README.md:" << block.line << ": " << line;
      }
    }
  }
}

// The checker itself: a bad snippet must be caught.
TEST(ServerProblemsTest, CatchesTokensInArgsAndEnv) {
  json in_env = json::parse(R"({"command": "/bin/latchkey-mcp",
      "args": ["--broker_socket=/run/latchkey/broker.sock"],
      "env": {"LATCHKEY_AGENT_TOKEN": "lk_agent_0123456789abcdef"}})");
  EXPECT_FALSE(ServerProblems("x", in_env).empty());
  json in_args = json::parse(R"({"command": "/bin/latchkey-mcp",
      "args": ["--broker_socket=/run/latchkey/broker.sock",
               "--token=lk_agent_0123456789abcdef"]})");
  EXPECT_FALSE(ServerProblems("x", in_args).empty());
  json opaque = json::parse(R"({"command": "/bin/latchkey-mcp",
      "args": ["--broker_socket=/run/latchkey/broker.sock",
               "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]})");
  EXPECT_FALSE(ServerProblems("x", opaque).empty());
  json no_command =
      json::parse(R"({"args": ["--broker_socket=/run/latchkey/broker.sock"]})");
  EXPECT_FALSE(ServerProblems("x", no_command).empty());
  json good = json::parse(R"({"command": "/bin/latchkey-mcp",
      "args": ["--broker_socket=/run/latchkey/broker.sock",
               "--token_file=/home/agent/.config/latchkey/agent.token"],
      "env": {}})");
  EXPECT_EQ(ServerProblems("x", good), std::vector<std::string>());
}

}  // namespace
}  // namespace latchkey::testing
