#include "audit_sink/hmac_key.h"

#include <sys/stat.h>

#include "audit_sink/test_util.h"
#include "gtest/gtest.h"

namespace latchkey::audit_sink {
namespace {

TEST(HmacKeyTest, CreatedOnFirstStartThenLoaded) {
  TempDir dir;
  absl::StatusOr<std::string> key = LoadOrCreateHmacKey(dir.path());
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->size(), kHmacKeyBytes);
  const std::string path = dir.path() + "/hmac.key";
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string text = ReadFile(path);
  EXPECT_EQ(text.size(), 2 * kHmacKeyBytes + 1);
  EXPECT_EQ(text.back(), '\n');

  absl::StatusOr<std::string> again = LoadOrCreateHmacKey(dir.path());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *key);
  EXPECT_NE(access((path + ".tmp").c_str(), F_OK), 0);
}

TEST(HmacKeyTest, RefusesAKeyOthersCanRead) {
  TempDir dir;
  ASSERT_TRUE(LoadOrCreateHmacKey(dir.path()).ok());
  const std::string path = dir.path() + "/hmac.key";
  for (mode_t mode : {0640, 0604, 0660}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    absl::StatusOr<std::string> key = LoadOrCreateHmacKey(dir.path());
    EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(key.status().message().find("chmod 600"), std::string::npos)
        << key.status();
  }
}

TEST(HmacKeyTest, RefusesMalformedKeyFiles) {
  TempDir dir;
  const std::string path = dir.path() + "/hmac.key";
  for (const std::string& text :
       {std::string("abcd\n"), std::string(64, 'z'), std::string(66, 'a')}) {
    WriteFile(path, text);
    ::chmod(path.c_str(), 0600);
    EXPECT_EQ(LoadHmacKey(path).status().code(),
              absl::StatusCode::kFailedPrecondition)
        << text;
  }
  WriteFile(path, std::string(64, 'A') + "\n");
  EXPECT_TRUE(LoadHmacKey(path).ok());
}

TEST(HmacKeyTest, WillNotCreateAKeyForAnExistingLog) {
  TempDir dir;
  WriteFile(dir.path() + "/audit.log", "{\"seq\":1}\n");
  absl::StatusOr<std::string> key = LoadOrCreateHmacKey(dir.path());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(access((dir.path() + "/hmac.key").c_str(), F_OK), 0);
}

}  // namespace
}  // namespace latchkey::audit_sink
