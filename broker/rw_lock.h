// RwLock: a reader/writer lock that prefers writers, on pthread_rwlock so
// that ThreadSanitizer sees it (Debian's Abseil is not instrumented, so
// absl::Mutex is invisible to TSan). Writer preference matters for the
// revocation gate: with glibc's default (readers first) a steady stream
// of requests could hold a revoke off indefinitely. Not recursive: a
// thread must not take it shared twice. Use with std::unique_lock and
// std::shared_lock.
#ifndef LATCHKEY_BROKER_RW_LOCK_H_
#define LATCHKEY_BROKER_RW_LOCK_H_

#include <pthread.h>

namespace latchkey::broker {

class RwLock {
 public:
  RwLock() {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&lock_, &attr);
    pthread_rwlockattr_destroy(&attr);
  }
  ~RwLock() { pthread_rwlock_destroy(&lock_); }
  RwLock(const RwLock&) = delete;
  RwLock& operator=(const RwLock&) = delete;

  void lock() { pthread_rwlock_wrlock(&lock_); }
  void unlock() { pthread_rwlock_unlock(&lock_); }
  void lock_shared() { pthread_rwlock_rdlock(&lock_); }
  void unlock_shared() { pthread_rwlock_unlock(&lock_); }

 private:
  pthread_rwlock_t lock_;
};

}  // namespace latchkey::broker

#endif  // LATCHKEY_BROKER_RW_LOCK_H_
