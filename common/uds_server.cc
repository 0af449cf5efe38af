#include "common/uds_server.h"

#include <fcntl.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/peer_credentials.h"
#include "common/status_macros.h"
#include "common/systemd_listen.h"

namespace latchkey {
namespace {

std::string Errno() { return std::strerror(errno); }

absl::Status EnsureSocketDirectory(const std::string& socket_path) {
  size_t slash = socket_path.rfind('/');
  if (slash == std::string::npos || slash == 0) return absl::OkStatus();
  std::string dir = socket_path.substr(0, slash);
  if (::mkdir(dir.c_str(), 0750) == 0) return absl::OkStatus();
  if (errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create socket directory ", dir, ": ", Errno()));
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("socket directory ", dir, " is not a directory"));
  }
  if (st.st_mode & S_IWOTH) {
    return absl::FailedPreconditionError(absl::StrCat(
        "socket directory ", dir,
        " is world-writable; use a directory only Latchkey's users can write"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> BindSocket(const std::string& path, mode_t mode) {
  struct sockaddr_un addr;
  std::memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("socket path is ", path.size(), " bytes; Unix sockets ",
                     "allow at most ", sizeof(addr.sun_path) - 1, ": ", path));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  LK_RETURN_IF_ERROR(EnsureSocketDirectory(path));

  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, " exists and is not a socket; refusing to replace it"));
    }
    // A stale socket from a previous run: probe it, replace it if dead.
    int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool alive =
        probe >= 0 &&
        ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    if (probe >= 0) ::close(probe);
    if (alive) {
      return absl::FailedPreconditionError(
          absl::StrCat("another process is already listening on ", path));
    }
    ::unlink(path.c_str());
  }

  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", Errno()));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::string error = Errno();
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot bind ", path, ": ", error));
  }
  // The directory is 0750, so nobody outside can reach the socket in the
  // moment between bind() and chmod().
  if (::chmod(path.c_str(), mode) != 0 || ::listen(fd, 128) != 0) {
    std::string error = Errno();
    ::close(fd);
    ::unlink(path.c_str());
    return absl::InternalError(
        absl::StrCat("cannot set up ", path, ": ", error));
  }
  return fd;
}

}  // namespace

absl::StatusOr<std::unique_ptr<UdsServer>> UdsServer::Start(
    const UdsServerOptions& options,
    const std::vector<grpc::Service*>& services) {
  if (options.guard == nullptr) {
    return absl::InvalidArgumentError("UdsServer needs a PeerGuard");
  }
  if ((options.socket_mode & 0007) != 0) {
    return absl::InvalidArgumentError(
        "socket mode must not grant access to others (use 0660 or stricter)");
  }
  bool owns_socket_file = false;
  int listen_fd = TakeSystemdListenFd(options.socket_path);
  if (listen_fd < 0) {
    absl::StatusOr<int> bound =
        BindSocket(options.socket_path, options.socket_mode);
    if (!bound.ok()) return bound.status();
    listen_fd = *bound;
    owns_socket_file = true;
  }
  int wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    ::close(listen_fd);
    return absl::InternalError(absl::StrCat("eventfd: ", Errno()));
  }

  grpc::EnableDefaultHealthCheckService(true);
  if (options.reflection) {
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  }
  auto calls = std::make_unique<InFlightCalls>();
  grpc::ServerBuilder builder;
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(calls->Factory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  builder.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  builder.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
  for (grpc::Service* service : services) builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    ::close(listen_fd);
    ::close(wake_fd);
    return absl::InternalError("gRPC server failed to start");
  }
  std::unique_ptr<UdsServer> uds(
      new UdsServer(options, listen_fd, wake_fd, owns_socket_file,
                    std::move(calls), std::move(server)));
  uds->accept_thread_ = std::thread([raw = uds.get()] { raw->AcceptLoop(); });
  LogInfo("listening", {{"socket", options.socket_path},
                        {"activated", owns_socket_file ? "no" : "systemd"}});
  return uds;
}

UdsServer::UdsServer(const UdsServerOptions& options, int listen_fd,
                     int wake_fd, bool owns_socket_file,
                     std::unique_ptr<InFlightCalls> calls,
                     std::unique_ptr<grpc::Server> server)
    : options_(options),
      listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      owns_socket_file_(owns_socket_file),
      calls_(std::move(calls)),
      server_(std::move(server)) {}

UdsServer::~UdsServer() { Shutdown(); }

void UdsServer::AcceptLoop() {
  while (!stopped_.load()) {
    struct pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int ready = ::poll(fds, 2, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      LogError("accept_poll_failed", {{"error", Errno()}});
      return;
    }
    if (fds[1].revents != 0 || stopped_.load()) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
        LogError("accept_failed", {{"error", Errno()}});
        // Back off on resource exhaustion (EMFILE) instead of spinning.
        ::usleep(10'000);
      }
      continue;
    }
    absl::StatusOr<PeerCredentials> peer = ReadPeerCredentials(fd);
    if (!peer.ok()) {
      LogError("peer_credentials_unreadable",
               {{"error", peer.status().ToString()}});
      ::close(fd);
      continue;
    }
    absl::Status recorded = PeerRegistry::Instance().Record(fd, *peer);
    if (!recorded.ok()) {
      LogError("peer_credentials_unrecorded", {{"error", recorded.ToString()}});
      ::close(fd);
      continue;
    }
    if (!options_.guard->IsKnownUid(peer->uid)) {
      // Keep the connection: its calls fail with PERMISSION_DENIED, which
      // tells the caller why, where closing it would look like an outage.
      LogWarning("peer_not_in_allow_list", {{"socket", options_.socket_path},
                                            {"uid", absl::StrCat(peer->uid)},
                                            {"gid", absl::StrCat(peer->gid)},
                                            {"pid", absl::StrCat(peer->pid)}});
    }
    int flags = ::fcntl(fd, F_GETFL, 0);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    grpc::AddInsecureChannelFromFd(server_.get(), fd);
  }
}

void UdsServer::Shutdown(absl::Duration grace) {
  if (stopped_.exchange(true)) return;
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
  if (accept_thread_.joinable()) accept_thread_.join();
  ::close(listen_fd_);
  if (owns_socket_file_) ::unlink(options_.socket_path.c_str());
  // Let calls in progress finish (up to `grace`), then shut down at once:
  // idle client connections must not hold the stop up.
  bool idle = calls_->WaitForIdle(grace);
  server_->Shutdown(std::chrono::system_clock::now());
  if (!idle) LogWarning("calls_cancelled_at_shutdown");
  server_->Wait();
  ::close(wake_fd_);
  LogInfo("stopped", {{"socket", options_.socket_path}});
}

std::shared_ptr<grpc::Channel> CreateUdsChannel(const std::string& path) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  args.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
  return grpc::CreateCustomChannel("unix:" + path,
                                   grpc::InsecureChannelCredentials(), args);
}

}  // namespace latchkey
