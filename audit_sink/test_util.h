// Helpers shared by the audit sink's tests.
#ifndef LATCHKEY_AUDIT_SINK_TEST_UTIL_H_
#define LATCHKEY_AUDIT_SINK_TEST_UTIL_H_

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "proto/audit.pb.h"

namespace latchkey::audit_sink {

// TempDir is a fresh mkdtemp("/tmp/lk-XXXXXX") directory (mode 0700),
// short enough for Unix sockets, removed with its contents at the end.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// MakeEvent returns a plausible broker decision numbered `n`.
v1::AuditEvent MakeEvent(int n, const std::string& agent = "agent-a",
                         const std::string& capability = "github",
                         v1::Decision decision = v1::DECISION_ALLOW);

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& content);
// SplitLines returns the newline-terminated lines (without newlines).
std::vector<std::string> SplitLines(const std::string& content);
// JoinLines ends every line with a newline.
std::string JoinLines(const std::vector<std::string>& lines);

// Binary is the path of an audit_sink binary in the test's runfiles.
std::string Binary(const std::string& name);

// Spawn starts `argv` with stdout and stderr appended to `output`.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& output);

// WaitExit returns the exit code (128 + signal if killed), or -1 after
// killing it when it did not exit within `timeout`.
int WaitExit(pid_t pid, std::chrono::seconds timeout);

// FillDisk writes `path` until its file system is full, down to the last
// byte, and returns how many bytes it wrote.
size_t FillDisk(const std::string& path);

}  // namespace latchkey::audit_sink

#endif  // LATCHKEY_AUDIT_SINK_TEST_UTIL_H_
