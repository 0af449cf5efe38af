#include "common/runtime_tuning.h"

#include <malloc.h>

#include "absl/synchronization/mutex.h"

namespace latchkey {
namespace {

// Streamed bodies pass through in 256 KiB messages, allocated and freed
// many times a second. With glibc's defaults each freed block at the top
// of a heap is handed back to the kernel and faulted in again by the next
// message, and unmapping costs a TLB shootdown on every core (profiled:
// about a quarter of the broker's CPU while relaying a download). Keep
// blocks up to 4 MiB in the heap and return memory only above 16 MiB of
// free space at its top.
constexpr int kMmapThresholdBytes = 4 * 1024 * 1024;
constexpr int kTrimThresholdBytes = 16 * 1024 * 1024;

}  // namespace

void TuneRuntimeForServing() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  mallopt(M_MMAP_THRESHOLD, kMmapThresholdBytes);
  mallopt(M_TRIM_THRESHOLD, kTrimThresholdBytes);
}

}  // namespace latchkey
