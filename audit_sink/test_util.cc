#include "audit_sink/test_util.h"

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"

namespace latchkey::audit_sink {
namespace {

int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) {
  return ::remove(path);
}

}  // namespace

TempDir::TempDir() {
  char templ[] = "/tmp/lk-XXXXXX";
  if (::mkdtemp(templ) == nullptr) std::abort();
  path_ = templ;
}

TempDir::~TempDir() {
  ::nftw(path_.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS);
}

v1::AuditEvent MakeEvent(int n, const std::string& agent,
                         const std::string& capability, v1::Decision decision) {
  v1::AuditEvent event;
  event.set_source("broker");
  event.set_agent(agent);
  event.set_session_id(absl::StrCat("sess-", n));
  event.set_capability(capability);
  event.set_method("GET");
  event.set_path(absl::StrCat("/repos/latchkey/issues/", n));
  event.set_decision(decision);
  event.set_reason_code(decision == v1::DECISION_ALLOW ? v1::REASON_ALLOWED
                                                       : v1::REASON_RULE_DENY);
  event.set_reason(decision == v1::DECISION_ALLOW ? "allow rule matched"
                                                  : "deny rule matched");
  event.set_rule("rule-1");
  event.set_upstream_status(decision == v1::DECISION_ALLOW ? 200 : 0);
  event.set_bytes_in(10 + n);
  event.set_bytes_out(1000 + n);
  event.set_latency_us(250 + n);
  event.set_request_id(absl::StrCat("req-", n));
  event.set_peer_uid(1000);
  event.set_agent_reason("triage \"bugs\"\n");
  return event;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::vector<std::string> SplitLines(const std::string& content) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t nl = content.find('\n'); nl != std::string::npos;
       nl = content.find('\n', start)) {
    lines.push_back(content.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) absl::StrAppend(&out, line, "\n");
  return out;
}

std::string Binary(const std::string& name) {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/",
                      std::getenv("TEST_WORKSPACE"), "/audit_sink/", name);
}

pid_t Spawn(const std::vector<std::string>& argv, const std::string& output) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  int fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  ::dup2(fd, 1);
  ::dup2(fd, 2);
  std::vector<char*> args;
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  ::execv(args[0], args.data());
  ::_exit(127);
}

int WaitExit(pid_t pid, std::chrono::seconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

size_t FillDisk(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return 0;
  std::string chunk(4096, 'f');
  size_t total = 0;
  while (true) {
    ssize_t n = ::write(fd, chunk.data(), chunk.size());
    if (n <= 0) break;
    total += static_cast<size_t>(n);
  }
  // Also the last partial page, byte by byte.
  while (::write(fd, "f", 1) == 1) ++total;
  ::close(fd);
  return total;
}

}  // namespace latchkey::audit_sink
