// Socket activation: systemd (or systemd-socket-activate) passes listening
// sockets as fds 3.. with LISTEN_FDS/LISTEN_PID set.
#ifndef LATCHKEY_COMMON_SYSTEMD_LISTEN_H_
#define LATCHKEY_COMMON_SYSTEMD_LISTEN_H_

#include <string>

namespace latchkey {

// TakeSystemdListenFd returns the passed listening Unix socket bound to
// `socket_path`, or -1 when none was passed for that path. Each fd is
// handed out at most once.
int TakeSystemdListenFd(const std::string& socket_path);

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_SYSTEMD_LISTEN_H_
