// RunCommand runs a program to completion with the given stdin, capturing
// stdout and stderr, bounded in time (killed with SIGKILL past `timeout`).
#ifndef LATCHKEY_TESTS_RUN_COMMAND_H_
#define LATCHKEY_TESTS_RUN_COMMAND_H_

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace latchkey::testing {

struct CommandResult {
  // exit_code is the exit status, or 128+signal if killed by a signal.
  int exit_code = -1;
  std::string out;
  std::string err;
  bool timed_out = false;
};

CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::string& stdin_text = "",
                         absl::Duration timeout = absl::Seconds(30));

}  // namespace latchkey::testing

#endif  // LATCHKEY_TESTS_RUN_COMMAND_H_
