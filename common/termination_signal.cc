#include "common/termination_signal.h"

#include <pthread.h>
#include <signal.h>

namespace latchkey {
namespace {

sigset_t TerminationSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

void BlockTerminationSignals() {
  sigset_t set = TerminationSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A peer closing a socket must not kill the daemon.
  signal(SIGPIPE, SIG_IGN);
}

int WaitForTerminationSignal(void (*on_hangup)()) {
  sigset_t set = TerminationSet();
  while (true) {
    int signal_number = 0;
    if (sigwait(&set, &signal_number) != 0) continue;
    if (signal_number == SIGHUP) {
      if (on_hangup != nullptr) on_hangup();
      continue;
    }
    return signal_number;
  }
}

}  // namespace latchkey
