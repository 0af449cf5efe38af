// The whole stack started the way systemd starts it: the listening sockets
// of deploy/systemd/*.socket are created by this test (standing in for
// PID 1, which keeps them across restarts) and handed, through
// systemd-socket-activate, to the command lines of the ExecStart= lines of
// deploy/systemd/*.service.in (paths moved to a temporary directory,
// user names replaced by this uid). Then the agent's happy-path request,
// and a restart of each daemon in turn: the agent's next request succeeds,
// or fails only with a retryable error and then succeeds.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/crypto.h"
#include "common/uds_server.h"
#include "gtest/gtest.h"
#include "proto/broker.grpc.pb.h"
#include "proto/vault.grpc.pb.h"
#include "tests/process.h"

namespace latchkey::testing {
namespace {

constexpr char kActivator[] = "/usr/bin/systemd-socket-activate";
constexpr int kMaxAttempts = 50;  // Per request, 100 ms apart.

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// UnitValues returns the values of `key=` lines of a unit file (comments
// skipped), in order.
std::vector<std::string> UnitValues(const std::string& path,
                                    const std::string& key) {
  std::vector<std::string> values;
  for (absl::string_view line : absl::StrSplit(ReadAll(path), '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (absl::ConsumePrefix(&line, key + "=")) {
      values.emplace_back(line);
    }
  }
  return values;
}

// Daemon is one service unit: its command line and its sockets.
struct Daemon {
  std::string name;                  // "vault", "broker", "audit".
  std::vector<std::string> argv;     // ExecStart=, rewritten.
  std::vector<std::string> sockets;  // Socket paths, in Sockets= order.
  std::vector<int> fds;              // Listening fds (held by the test).
  std::map<std::string, std::string> env;
  pid_t pid = -1;
};

class SocketActivationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kActivator, X_OK) != 0) {
      GTEST_SKIP() << kActivator << " is missing (Debian package systemd)";
    }
    char templ[] = "/tmp/lk-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    dir_ = templ;
    for (const char* sub : {"/run", "/state", "/etc", "/credentials"}) {
      ASSERT_EQ(mkdir((dir_ + sub).c_str(), 0700), 0);
    }
  }

  void TearDown() override {
    for (auto& [name, daemon] : daemons_) Stop(&daemon);
    upstream_.reset();
    for (auto& [name, daemon] : daemons_) {
      for (int fd : daemon.fds) close(fd);
    }
    if (!dir_.empty() && getenv("LATCHKEY_KEEP_TEST_DIR") == nullptr) {
      (void)!std::system(("rm -rf '" + dir_ + "'").c_str());
    }
  }

  // Rewrite maps the unit's production paths into the test directory.
  std::string Rewrite(const std::string& text) const {
    return absl::StrReplaceAll(text, {{"@BINDIR@/", "./bin/"},
                                      {"/run/latchkey/", dir_ + "/run/"},
                                      {"/var/lib/latchkey/", dir_ + "/state/"},
                                      {"/etc/latchkey/", dir_ + "/etc/"}});
  }

  // LoadUnit reads deploy/systemd/latchkey-NAME.service.in and the socket
  // units it names, and creates the listening sockets.
  void LoadUnit(const std::string& name) {
    const std::string unit = "deploy/systemd/latchkey-" + name + ".service.in";
    std::vector<std::string> exec = UnitValues(unit, "ExecStart");
    ASSERT_FALSE(exec.empty()) << unit;
    Daemon daemon;
    daemon.name = name;
    for (absl::string_view word :
         absl::StrSplit(exec[0], ' ', absl::SkipEmpty())) {
      std::string arg = Rewrite(std::string(word));
      // User names of the production install (latchkey-broker, root):
      // this test's processes all run as one uid.
      const size_t equals = arg.find('=');
      if (absl::StartsWith(arg, "--") && equals != std::string::npos &&
          absl::EndsWith(arg.substr(0, equals), "_uids")) {
        arg = absl::StrCat(arg.substr(0, equals), "=", getuid());
      }
      daemon.argv.push_back(arg);
    }
    ASSERT_TRUE(absl::StartsWith(daemon.argv[0], "./bin/")) << exec[0];
    daemon.argv[0] = absl::StrCat(name == "audit" ? "audit_sink" : name, "/",
                                  daemon.argv[0].substr(strlen("./bin/")));
    // Sockets= (default: the unit of the same name).
    std::vector<std::string> socket_units = {"latchkey-" + name + ".socket"};
    std::vector<std::string> listed = UnitValues(unit, "Sockets");
    if (!listed.empty()) {
      socket_units = absl::StrSplit(listed[0], ' ', absl::SkipEmpty());
    }
    for (const std::string& socket_unit : socket_units) {
      std::vector<std::string> listen =
          UnitValues("deploy/systemd/" + socket_unit, "ListenStream");
      ASSERT_EQ(listen.size(), 1u) << socket_unit;
      std::string path = Rewrite(listen[0]);
      daemon.sockets.push_back(path);
      daemon.fds.push_back(Listen(path));
      ASSERT_GE(daemon.fds.back(), 0) << path;
    }
    daemons_[name] = std::move(daemon);
  }

  // Listen creates a listening Unix socket as systemd does for a .socket
  // unit (SocketMode=0660).
  static int Listen(const std::string& path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path)) return -1;
    memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    unlink(path.c_str());
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(fd, 128) != 0) {
      close(fd);
      return -1;
    }
    chmod(path.c_str(), 0660);
    return fd;
  }

  // Start runs systemd-socket-activate with the daemon's listening fds as
  // fds 3.. (LISTEN_FDS/LISTEN_PID, as PID 1 passes them), which passes
  // them on to the ExecStart= command line exactly as systemd would.
  void Start(Daemon* daemon) {
    std::vector<std::string> argv = {kActivator};
    // The activator passes the child only the environment given with -E
    // (as a unit's Environment= / the credentials directory of systemd).
    for (const auto& [key, value] : daemon->env) {
      argv.push_back("-E");
      argv.push_back(key + "=" + value);
    }
    argv.insert(argv.end(), daemon->argv.begin(), daemon->argv.end());
    const std::string log = dir_ + "/" + daemon->name + ".log";
    pid_t pid = fork();
    if (pid == 0) {
      int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      dup2(out, 1);
      dup2(out, 2);
      // Move the fds out of the way first, then into 3.. in order.
      std::vector<int> high;
      for (int fd : daemon->fds) high.push_back(fcntl(fd, F_DUPFD, 100));
      for (size_t i = 0; i < high.size(); ++i) {
        dup2(high[i], 3 + static_cast<int>(i));  // dup2 clears CLOEXEC.
      }
      setenv("LISTEN_FDS", std::to_string(high.size()).c_str(), 1);
      setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
      std::vector<char*> args;
      for (const std::string& arg : argv) {
        args.push_back(const_cast<char*>(arg.c_str()));
      }
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    daemon->pid = pid;
  }

  // Stop sends SIGTERM (systemctl stop) and waits, bounded, then SIGKILL.
  static void Stop(Daemon* daemon) {
    if (daemon->pid <= 0) return;
    kill(daemon->pid, SIGTERM);
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    int status = 0;
    while (waitpid(daemon->pid, &status, WNOHANG) == 0) {
      if (absl::Now() > deadline) {
        kill(daemon->pid, SIGKILL);
        waitpid(daemon->pid, &status, 0);
        break;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    daemon->pid = -1;
  }

  std::string Socket(const std::string& file) const {
    return dir_ + "/run/" + file;
  }

  std::unique_ptr<grpc::ClientContext> Context(bool agent = false) const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(10));
    // Wait for the socket to accept (socket activation: a connection
    // is queued until the daemon starts) rather than fail fast.
    context->set_wait_for_ready(false);
    if (agent) context->AddMetadata("authorization", "Bearer " + token_);
    return context;
  }

  // Retry runs `call` until it returns OK, at most kMaxAttempts times;
  // every failure must be retryable. Returns the number of failures.
  template <typename Call>
  int Retry(const std::string& what, Call call) {
    int failures = 0;
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      std::string failure;
      bool retryable = false;
      if (call(&failure, &retryable)) return failures;
      ++failures;
      EXPECT_TRUE(retryable) << what << ": not retryable: " << failure;
      if (!retryable) return failures;
      absl::SleepFor(absl::Milliseconds(100));
    }
    ADD_FAILURE() << what << ": still failing after " << kMaxAttempts
                  << " attempts";
    return failures;
  }

  // AgentRequest is the agent's happy-path request in its session:
  // success, or a retryable failure (gRPC UNAVAILABLE, or a denial that
  // says a daemon behind the broker is unavailable).
  bool AgentRequest(std::string* failure, bool* retryable) {
    auto broker = v1::Broker::NewStub(CreateUdsChannel(Socket("broker.sock")));
    v1::ExecuteRequest request;
    request.set_session_id(session_);
    request.set_capability("demo-api");
    request.mutable_request()->set_method("GET");
    request.mutable_request()->set_path("/v1/activated");
    v1::ExecuteResponse response;
    grpc::Status rpc = broker->Execute(Context(true).get(), request, &response);
    if (!rpc.ok()) {
      *failure =
          absl::StrCat("gRPC ", rpc.error_code(), ": ", rpc.error_message());
      *retryable = rpc.error_code() == grpc::StatusCode::UNAVAILABLE;
      return false;
    }
    if (response.decision() == v1::DECISION_ALLOW &&
        response.response().status() == 200) {
      return true;
    }
    *failure = response.DebugString();
    const v1::ReasonCode code = response.denial().code();
    *retryable = code == v1::REASON_VAULT_UNAVAILABLE ||
                 code == v1::REASON_AUDIT_UNAVAILABLE;
    return false;
  }

  std::string dir_;
  std::map<std::string, Daemon> daemons_;
  std::unique_ptr<ChildProcess> upstream_;
  std::string token_;
  std::string session_;
};

TEST_F(SocketActivationTest, StackFromUnitFilesSurvivesARestartOfEachDaemon) {
  // The upstream the secret is bound to.
  const std::string port_file = dir_ + "/upstream.port";
  auto upstream = ChildProcess::Start(
      {{"/usr/bin/python3", "tests/upstream/echo_upstream.py",
        "--port-file=" + port_file},
       {},
       dir_ + "/upstream.log",
       false});
  ASSERT_TRUE(upstream.ok()) << upstream.status();
  upstream_ = std::move(*upstream);
  std::string port;
  for (int i = 0; i < 500 && port.empty(); ++i) {
    port = ReadFileOrEmpty(port_file);
    if (port.empty()) absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_FALSE(port.empty());
  const std::string origin = "http://127.0.0.1:" + port;

  for (const char* name : {"audit", "vault", "broker"}) {
    ASSERT_NO_FATAL_FAILURE(LoadUnit(name));
  }
  // The broker's configuration, at the path its ExecStart= names.
  auto token = RandomBytes(32);
  ASSERT_TRUE(token.ok());
  token_ = "lk_agent_" + HexEncode(*token);
  std::ofstream(dir_ + "/etc/broker.textproto") << absl::StrCat(
      "agents { name: \"demo-agent\" token_sha256: \"", Sha256Hex(token_),
      "\" }\ncapabilities { name: \"demo-api\" secret_id: \"demo-token\" "
      "origin: \"",
      origin,
      "\" rules { effect: ALLOW methods: \"GET\" path: \"/v1/**\" } "
      "agents: \"demo-agent\" limits { total_timeout_ms: 5000 } }\n");
  // Unattended unseal, as the vault unit's drop-in documents it.
  Daemon& vault = daemons_["vault"];
  vault.argv.push_back("--unseal_credential=latchkey-root-key");
  vault.env["CREDENTIALS_DIRECTORY"] = dir_ + "/credentials";

  for (auto& [name, daemon] : daemons_) Start(&daemon);

  // The operator initializes the vault for systemd-credential unseal,
  // provisions the credential, restarts it (unsealed from the credential
  // now) and stores the secret. All through the activated sockets.
  auto admin = v1::VaultAdmin::NewStub(CreateUdsChannel(Socket("vault.sock")));
  v1::InitRequest init;
  init.set_method(v1::UNSEAL_METHOD_SYSTEMD_CREDENTIAL);
  v1::InitResponse initialized;
  Retry("vault init", [&](std::string* failure, bool* retryable) {
    grpc::Status rpc = admin->Init(Context().get(), init, &initialized);
    *failure = rpc.error_message();
    *retryable = rpc.error_code() == grpc::StatusCode::UNAVAILABLE;
    return rpc.ok();
  });
  ASSERT_EQ(initialized.unseal_keys_size(), 1);
  {
    const std::string path = dir_ + "/credentials/latchkey-root-key";
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(fd, 0);
    const std::string& key = initialized.unseal_keys(0);
    ASSERT_EQ(write(fd, key.data(), key.size()),
              static_cast<ssize_t>(key.size()));
    close(fd);
  }
  Stop(&vault);
  Start(&vault);
  v1::VaultStatus status;
  Retry("vault status", [&](std::string* failure, bool* retryable) {
    grpc::Status rpc =
        admin->GetStatus(Context().get(), v1::GetStatusRequest(), &status);
    *failure = rpc.error_message();
    *retryable = rpc.error_code() == grpc::StatusCode::UNAVAILABLE;
    return rpc.ok();
  });
  ASSERT_FALSE(status.sealed()) << "not unsealed from the credential";
  v1::PutSecretRequest put;
  put.set_id("demo-token");
  put.set_value("lk_activation_S3cr3t_4c1e");
  put.add_origins(origin);
  put.add_internal_origins(origin);  // a loopback upstream
  v1::SecretMetadata metadata;
  grpc::Status stored = admin->PutSecret(Context().get(), put, &metadata);
  ASSERT_TRUE(stored.ok()) << stored.error_message();

  // The agent opens a session and makes its request.
  auto broker = v1::Broker::NewStub(CreateUdsChannel(Socket("broker.sock")));
  v1::OpenSessionRequest open;
  open.add_capabilities("demo-api");
  v1::Session session;
  Retry("open session", [&](std::string* failure, bool* retryable) {
    grpc::Status rpc = broker->OpenSession(Context(true).get(), open, &session);
    *failure = rpc.error_message();
    *retryable = rpc.error_code() == grpc::StatusCode::UNAVAILABLE;
    return rpc.ok();
  });
  session_ = session.id();
  ASSERT_FALSE(session_.empty());
  Retry("first request", [&](std::string* failure, bool* retryable) {
    return AgentRequest(failure, retryable);
  });

  // Restart each daemon in turn; the sockets stay with the "init" (this
  // test), so the agent's next request reaches the new process.
  for (const char* name : {"audit", "vault", "broker"}) {
    Daemon& daemon = daemons_[name];
    const pid_t before = daemon.pid;
    Stop(&daemon);
    Start(&daemon);
    ASSERT_NE(daemon.pid, before);
    const int failures = Retry(absl::StrCat("request after restarting ", name),
                               [&](std::string* failure, bool* retryable) {
                                 return AgentRequest(failure, retryable);
                               });
    // Report what the agent saw (0: the restart was invisible).
    RecordProperty(absl::StrCat("retryable_failures_after_", name, "_restart"),
                   failures);
    EXPECT_LE(failures, kMaxAttempts);
  }
}

}  // namespace
}  // namespace latchkey::testing
