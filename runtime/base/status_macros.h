#pragma once

// Early-return helpers for absl::Status / absl::StatusOr. Debian bookworm's
// Abseil (20220623) does not ship its own.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define BERTH_STATUS_CONCAT_INNER_(a, b) a##b
#define BERTH_STATUS_CONCAT_(a, b) BERTH_STATUS_CONCAT_INNER_(a, b)

// RETURN_IF_ERROR(expr): returns the status of `expr` from the enclosing
// function when it is not OK.
#define RETURN_IF_ERROR(expr)                                 \
  do {                                                        \
    ::absl::Status berth_status_ = ::berth::AsStatus((expr)); \
    if (!berth_status_.ok()) return berth_status_;            \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr): evaluates a StatusOr `expr`; on error returns
// its status, otherwise moves the value into `lhs` (which may declare it).
#define ASSIGN_OR_RETURN(lhs, expr) \
  BERTH_ASSIGN_OR_RETURN_IMPL_(BERTH_STATUS_CONCAT_(berth_statusor_, __LINE__), lhs, expr)

#define BERTH_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return std::move(tmp).status();     \
  lhs = std::move(tmp).value()

namespace berth {

inline const absl::Status& AsStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& AsStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

}  // namespace berth
