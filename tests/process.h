// ChildProcess starts a real program for cross-process tests and benches,
// with stdout/stderr going to a log file (or pipes for an MCP client), and
// stops it with SIGTERM (then SIGKILL after a bounded wait).
#ifndef LATCHKEY_TESTS_PROCESS_H_
#define LATCHKEY_TESTS_PROCESS_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace latchkey::testing {

class ChildProcess {
 public:
  struct Options {
    std::vector<std::string> argv;
    std::map<std::string, std::string> env;  // added to a clean environment
    std::string log_path;                    // stdout+stderr, unless piped
    bool pipe_stdio = false;                 // stdin/stdout as pipes
  };
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      const Options& options);
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // Stop sends `signal` and waits up to `grace`, then SIGKILL. Returns the
  // wait status.
  int Stop(int signal = 15, absl::Duration grace = absl::Seconds(10));
  bool Running();

  // For pipe_stdio children.
  absl::Status WriteLine(const std::string& line);
  // ReadLine returns the next stdout line (without '\n') or an error after
  // `timeout`.
  absl::StatusOr<std::string> ReadLine(absl::Duration timeout);
  void CloseStdin();

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::string buffer_;
  bool exited_ = false;
  int exit_status_ = 0;
};

// WaitForSocket waits until a Unix socket accepts connections.
absl::Status WaitForSocket(const std::string& path, absl::Duration timeout);

// ReadFileOrEmpty returns a file's bytes, or "" if it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);

}  // namespace latchkey::testing

#endif  // LATCHKEY_TESTS_PROCESS_H_
