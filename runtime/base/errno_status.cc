#include "runtime/base/errno_status.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace berth {
namespace {

absl::StatusCode CodeForErrno(int error_number) {
  switch (error_number) {
    case 0:
      return absl::StatusCode::kUnknown;
    case ENOENT:
    case ESRCH:
    case ENXIO:
      return absl::StatusCode::kNotFound;
    case EEXIST:
      return absl::StatusCode::kAlreadyExists;
    case EPERM:
    case EACCES:
    case EROFS:
      return absl::StatusCode::kPermissionDenied;
    case EINVAL:
    case ENAMETOOLONG:
    case ENOTDIR:
    case EISDIR:
    case ELOOP:
    case E2BIG:
      return absl::StatusCode::kInvalidArgument;
    case ENOSPC:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
    case EDQUOT:
      return absl::StatusCode::kResourceExhausted;
    case EAGAIN:
    case EBUSY:
    case EINTR:
      return absl::StatusCode::kUnavailable;
    case ETIMEDOUT:
      return absl::StatusCode::kDeadlineExceeded;
    case ENOSYS:
    case EOPNOTSUPP:
      return absl::StatusCode::kUnimplemented;
    case ENOTEMPTY:
      return absl::StatusCode::kFailedPrecondition;
    default:
      return absl::StatusCode::kInternal;
  }
}

}  // namespace

absl::Status ErrnoToStatus(int error_number, absl::string_view what) {
  const char* name = strerrorname_np(error_number);
  const char* description = strerrordesc_np(error_number);
  std::string message = absl::StrCat(
      what, ": ", name != nullptr ? std::string(name) : absl::StrCat("errno ", error_number), " (",
      description != nullptr ? description : "unknown error", ")");
  return absl::Status(CodeForErrno(error_number), message);
}

absl::Status ErrnoStatus(absl::string_view what) { return berth::ErrnoToStatus(errno, what); }

}  // namespace berth
