// TuneRuntimeForServing adjusts library defaults that cost latency on every
// request. Call it first thing in main(), before any thread starts.
#ifndef LATCHKEY_COMMON_RUNTIME_TUNING_H_
#define LATCHKEY_COMMON_RUNTIME_TUNING_H_

namespace latchkey {

// Debian's Abseil is built with Mutex deadlock detection on, which makes
// every lock taken inside gRPC walk a global lock graph. gRPC's locking is
// not ours to check at run time (our tests and TSan do that), so serving
// processes turn it off.
void TuneRuntimeForServing();

}  // namespace latchkey

#endif  // LATCHKEY_COMMON_RUNTIME_TUNING_H_
