// errno -> absl::Status.
#include "zcnet/status.hpp"

#include <absl/strings/str_cat.h>
#include <uringx/error.h>

#include <cerrno>
#include <cstring>

namespace zcnet {

absl::Status ErrnoStatus(absl::string_view operation, int err) {
  if (err < 0) err = -err;
  std::string msg = absl::StrCat(operation, ": ", std::strerror(err), " (errno ", err, ")");
  switch (err) {
    case 0:
      return absl::OkStatus();
    case ECANCELED:
      return absl::CancelledError(msg);
    case ETIME:
    case ETIMEDOUT:
      return absl::DeadlineExceededError(msg);
    case EBADF:
    case EINVAL:
    case ENOTSOCK:
    case EFAULT:
      return absl::InvalidArgumentError(msg);
    case ECONNRESET:
    case ECONNREFUSED:
    case ECONNABORTED:
    case EPIPE:
    case ENOTCONN:
    case EHOSTUNREACH:
    case ENETUNREACH:
      return absl::UnavailableError(msg);
    case ENOBUFS:
    case ENOMEM:
    case ENOSPC:
      return absl::ResourceExhaustedError(msg);
    case EPERM:
    case EACCES:
      return absl::PermissionDeniedError(msg);
    case EOPNOTSUPP:
    case ENOSYS:
      return absl::UnimplementedError(msg);
    case EALREADY:
    case EEXIST:
    case EBUSY:
      return absl::FailedPreconditionError(msg);
    case ENOENT:
    case ENODEV:
      return absl::NotFoundError(msg);
    default:
      return absl::UnknownError(msg);
  }
}

absl::Status ReasonStatus(absl::string_view operation, int err, int reason) {
  absl::Status st = ErrnoStatus(operation, err);
  if (reason == URINGX_REASON_NONE) return st;
  return absl::Status(st.code(), absl::StrCat(st.message(), ": ",
                                              uringx_reason_str(static_cast<enum uringx_reason>(reason))));
}

}  // namespace zcnet
