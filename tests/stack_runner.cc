// stack_runner starts the whole Latchkey stack (tests/stack.h, without an
// MCP adapter) for test drivers written in other languages, e.g. the MCP
// SDK tests in tests/mcp_client/. It prints one JSON line on stdout:
//
//   {"broker_socket": ..., "admin_socket": ..., "vault_socket": ...,
//    "agent_token": ..., "upstream_record_path": ..., "audit_log_path": ...,
//    "mcp_binary": ..., "ctl_binary": ..., "run_dir": ..., "dir": ...,
//    "unseal_key": ..., "upstream_origin": ..., "secret": ...}
//
// (or {"error": ...} and exit status 1 when the stack does not start), then
// keeps the stack up until its stdin closes or it gets SIGTERM/SIGINT/SIGHUP,
// and tears it down. Paths are absolute. The daemons' logs are in `dir`
// (kept when LATCHKEY_KEEP_TEST_DIR is set).
//
//   stack_runner [--bin_dir=DIR]
//
// DIR holds the built binaries laid out as in the workspace; by default the
// runfiles tree of this binary, else the working directory.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "nlohmann/json.hpp"
#include "tests/stack.h"

namespace {

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string Absolute(const std::string& path) {
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) return path;
  return resolved;
}

// BinDir finds the runfiles tree: --bin_dir, $RUNFILES_DIR, argv[0].runfiles,
// or the working directory (bazel test/run start there).
std::string BinDir(int argc, char** argv) {
  const std::string flag = "--bin_dir=";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind(flag, 0) == 0) return Absolute(arg.substr(flag.size()));
  }
  const char* runfiles = getenv("RUNFILES_DIR");
  if (runfiles != nullptr && IsDirectory(std::string(runfiles) + "/latchkey")) {
    return Absolute(std::string(runfiles) + "/latchkey");
  }
  std::string own = std::string(argv[0]) + ".runfiles/latchkey";
  if (IsDirectory(own)) return Absolute(own);
  return Absolute(".");
}

void PrintLine(const nlohmann::json& line) {
  std::cout << line.dump() << std::endl;  // endl flushes: the driver waits.
}

}  // namespace

int main(int argc, char** argv) {
  // Blocked here and taken from a signalfd; children get a clean mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGPIPE);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  int signal_fd = signalfd(-1, &signals, SFD_CLOEXEC);

  latchkey::testing::StackOptions options;
  options.bin_dir = BinDir(argc, argv);
  options.start_mcp = false;
  auto started = latchkey::testing::Stack::Start(options);
  if (!started.ok()) {
    PrintLine({{"error", started.status().ToString()}});
    return 1;
  }
  std::unique_ptr<latchkey::testing::Stack> stack = *std::move(started);
  PrintLine({
      {"broker_socket", stack->run("broker.sock")},
      {"admin_socket", stack->run("admin.sock")},
      {"vault_socket", stack->run("vault.sock")},
      {"audit_socket", stack->run("audit.sock")},
      {"run_dir", stack->dir() + "/run"},
      {"agent_token", stack->agent_token()},
      {"upstream_record_path", stack->upstream_record_path()},
      {"upstream_origin", stack->upstream_origin()},
      {"audit_log_path", stack->audit_log_path()},
      {"mcp_binary", options.bin_dir + "/mcp_adapter/latchkey-mcp"},
      {"ctl_binary", options.bin_dir + "/ctl/latchkeyctl"},
      {"dir", stack->dir()},
      {"unseal_key", stack->unseal_key()},
      {"secret", latchkey::testing::Stack::kSecret},
  });

  pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {signal_fd, POLLIN, 0}};
  char buffer[256];
  while (true) {
    int ready = poll(fds, signal_fd >= 0 ? 2 : 1, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents != 0) break;  // A termination signal.
    if (fds[0].revents != 0) {
      ssize_t n = read(STDIN_FILENO, buffer, sizeof(buffer));
      if (n <= 0 && !(n < 0 && errno == EINTR)) break;  // EOF or error.
    }
  }
  stack.reset();  // Stops every daemon and removes the directory.
  return 0;
}
