// Clean shutdown on SIGTERM/SIGINT: main() blocks the signals before it
// starts any thread, then waits for one with sigwait().
#ifndef LATCHKEY_COMMON_TERMINATION_SIGNAL_H_
#define LATCHKEY_COMMON_TERMINATION_SIGNAL_H_

namespace latchkey {

// BlockTerminationSignals blocks SIGTERM, SIGINT, SIGHUP and SIGPIPE in
// the calling thread and every thread it starts afterwards.
void BlockTerminationSignals();

// WaitForTerminationSignal returns the signal number once SIGTERM or
// SIGINT arrives. SIGHUP calls `on_hangup` (if set) and keeps waiting.
int WaitForTerminationSignal(void (*on_hangup)() = nullptr);

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_TERMINATION_SIGNAL_H_
