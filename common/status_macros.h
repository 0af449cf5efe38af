// Small helpers for absl::Status plumbing. Debian's Abseil (20220623) has
// no RETURN_IF_ERROR, so we keep one definition here.
#ifndef LATCHKEY_COMMON_STATUS_MACROS_H_
#define LATCHKEY_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// LK_RETURN_IF_ERROR returns the status of `expr` from the enclosing
// function when it is not OK.
#define LK_RETURN_IF_ERROR(expr)                  \
  do {                                            \
    ::absl::Status lk_status_ = (expr);           \
    if (!lk_status_.ok()) return lk_status_;      \
  } while (0)

#define LK_CONCAT_INNER_(a, b) a##b
#define LK_CONCAT_(a, b) LK_CONCAT_INNER_(a, b)

// LK_ASSIGN_OR_RETURN(lhs, expr) evaluates the StatusOr `expr`; on error it
// returns the status, otherwise it moves the value into `lhs`.
//   LK_ASSIGN_OR_RETURN(auto row, store.Read(id));
#define LK_ASSIGN_OR_RETURN(lhs, expr) \
  LK_ASSIGN_OR_RETURN_IMPL_(LK_CONCAT_(lk_statusor_, __LINE__), lhs, expr)

#define LK_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

#endif  // LATCHKEY_COMMON_STATUS_MACROS_H_
