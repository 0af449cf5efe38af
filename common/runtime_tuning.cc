#include "common/runtime_tuning.h"

#include "absl/synchronization/mutex.h"

namespace latchkey {

void TuneRuntimeForServing() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace latchkey
