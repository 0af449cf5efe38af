#include "audit_sink/range_line_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "audit_sink/test_util.h"
#include "gtest/gtest.h"

namespace latchkey::audit_sink {
namespace {

std::vector<std::string> ReadAll(int fd, uint64_t start, uint64_t end,
                                 size_t max, uint64_t* trailing) {
  RangeLineReader reader(fd, start, end, max);
  std::vector<std::string> lines;
  absl::string_view line;
  while (reader.Next(&line)) lines.emplace_back(line);
  EXPECT_TRUE(reader.status().ok());
  *trailing = reader.trailing_bytes();
  return lines;
}

TEST(RangeLineReaderTest, LinesRangesAndTrailingBytes) {
  TempDir dir;
  std::string path = dir.path() + "/f";
  std::string big(200 * 1024, 'x');
  WriteFile(path, "one\ntwo\n" + big + "\nthree\npart");
  int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  uint64_t size = 8 + big.size() + 1 + 6 + 4;
  uint64_t trailing = 0;
  auto lines = ReadAll(fd, 0, size, 1024 * 1024, &trailing);
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", big, "three"}));
  EXPECT_EQ(trailing, 4u);
  // A range ending on a newline has no trailing bytes.
  lines = ReadAll(fd, 4, 8, 1024, &trailing);
  EXPECT_EQ(lines, (std::vector<std::string>{"two"}));
  EXPECT_EQ(trailing, 0u);
  // Over-long lines come back empty; the reader resumes after them.
  lines = ReadAll(fd, 0, size, 1024, &trailing);
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", "", "three"}));
  // A range past the end of the file stops at the end.
  lines = ReadAll(fd, 0, size + 100, 1024 * 1024, &trailing);
  EXPECT_EQ(lines.size(), 4u);
  EXPECT_EQ(trailing, 4u);
  ::close(fd);
}

TEST(RangeLineReaderTest, OffsetsAndPositions) {
  TempDir dir;
  std::string path = dir.path() + "/f";
  WriteFile(path, "ab\ncde\n");
  int fd = ::open(path.c_str(), O_RDONLY);
  RangeLineReader reader(fd, 0, 7, 100);
  absl::string_view line;
  ASSERT_TRUE(reader.Next(&line));
  EXPECT_EQ(reader.line_offset(), 0u);
  EXPECT_EQ(reader.position(), 3u);
  ASSERT_TRUE(reader.Next(&line));
  EXPECT_EQ(line, "cde");
  EXPECT_EQ(reader.line_offset(), 3u);
  EXPECT_EQ(reader.position(), 7u);
  EXPECT_FALSE(reader.Next(&line));
  ::close(fd);
}

}  // namespace
}  // namespace latchkey::audit_sink
