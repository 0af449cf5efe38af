#include "mcp_adapter/token_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace latchkey::mcp {
namespace {

using ::testing::HasSubstr;

class TokenSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/lk-token-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    dir_ = templ;
    ::unsetenv(kTokenEnvVar);
  }
  void TearDown() override {
    ::unsetenv(kTokenEnvVar);
    std::string cmd = "rm -rf " + dir_;
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  std::string WriteFile(const std::string& name, const std::string& contents,
                        mode_t mode) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << contents;
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }
  std::string dir_;
};

TEST_F(TokenSourceTest, EnvironmentWinsAndIsRemoved) {
  ::setenv(kTokenEnvVar, "lk_agent_abc123", 1);
  std::string file = WriteFile("t", "from-file\n", 0600);
  auto token = LoadAgentToken(file);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->token, "lk_agent_abc123");
  EXPECT_EQ(token->source, "env");
  EXPECT_EQ(std::getenv(kTokenEnvVar), nullptr);
}

TEST_F(TokenSourceTest, FileWhenEnvironmentIsUnsetOrEmpty) {
  std::string file = WriteFile("t", "  tok-123  \nsecond line\n", 0600);
  auto token = LoadAgentToken(file);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->token, "tok-123");
  EXPECT_EQ(token->source, file);
  ::setenv(kTokenEnvVar, "", 1);
  EXPECT_EQ(LoadAgentToken(file)->token, "tok-123");
}

TEST_F(TokenSourceTest, MissingTokenIsNotFound) {
  auto token = LoadAgentToken("");
  EXPECT_EQ(token.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(token.status().message()),
              HasSubstr("LATCHKEY_AGENT_TOKEN"));
}

TEST_F(TokenSourceTest, RefusesFilesOthersCanRead) {
  for (mode_t mode : {0640, 0604, 0660, 0644, 0610}) {
    std::string file = WriteFile("t" + std::to_string(mode), "tok\n", mode);
    auto token = ReadTokenFile(file);
    EXPECT_EQ(token.status().code(), absl::StatusCode::kFailedPrecondition)
        << mode;
    EXPECT_THAT(std::string(token.status().message()), HasSubstr("chmod 600"));
  }
  EXPECT_TRUE(ReadTokenFile(WriteFile("ok", "tok\n", 0400)).ok());
}

TEST_F(TokenSourceTest, RefusesNonRegularAndMissingFiles) {
  EXPECT_FALSE(ReadTokenFile(dir_).ok());
  EXPECT_FALSE(ReadTokenFile(dir_ + "/missing").ok());
}

TEST_F(TokenSourceTest, RefusesBadTokens) {
  EXPECT_FALSE(ReadTokenFile(WriteFile("empty", "\n", 0600)).ok());
  EXPECT_FALSE(ReadTokenFile(WriteFile("space", "a b\n", 0600)).ok());
  EXPECT_FALSE(ReadTokenFile(WriteFile("ctl", "a\x01z\n", 0600)).ok());
  EXPECT_FALSE(ReadTokenFile(WriteFile("utf8", "t\xc3\xa9\n", 0600)).ok());
  EXPECT_FALSE(
      ReadTokenFile(WriteFile("big", std::string(5000, 'a'), 0600)).ok());
  ::setenv(kTokenEnvVar, "bad\ttoken", 1);
  EXPECT_EQ(LoadAgentToken("").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace latchkey::mcp
