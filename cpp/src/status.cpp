// errno -> absl::Status.
#include "zcnet/status.hpp"

#include <absl/strings/str_cat.h>
#include <uringx/error.h>

#include <sys/resource.h>

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
    case EADDRINUSE:
      return absl::UnavailableError(msg);
    case ENOBUFS:
    case ENOMEM:
    case ENOSPC:
    case EMFILE:
    case ENFILE:
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
    case EADDRNOTAVAIL:
      return absl::FailedPreconditionError(msg);
    case ENOENT:
    case ENODEV:
      return absl::NotFoundError(msg);
    default:
      return absl::UnknownError(msg);
  }
}

namespace {

// "64 KiB", "8 MiB", "unlimited": a resource limit as a user would set it.
std::string LimitText(rlim_t v) {
  if (v == RLIM_INFINITY) return "unlimited";
  if (v >= (1u << 20) && v % (1u << 20) == 0) return absl::StrCat(v >> 20, " MiB");
  if (v >= 1024 && v % 1024 == 0) return absl::StrCat(v >> 10, " KiB");
  return absl::StrCat(v, " bytes");
}

}  // namespace

absl::Status ReasonStatus(absl::string_view operation, int err, int reason) {
  absl::Status st = ErrnoStatus(operation, err);
  if (reason == URINGX_REASON_NONE) return st;
  std::string msg = absl::StrCat(st.message(), ": ",
                                 uringx_reason_str(static_cast<enum uringx_reason>(reason)));
  rlimit lim;
  if (reason == URINGX_REASON_MEMLOCK && getrlimit(RLIMIT_MEMLOCK, &lim) == 0)
    absl::StrAppend(&msg, " (RLIMIT_MEMLOCK is ", LimitText(lim.rlim_cur), ")");
  return absl::Status(st.code(), msg);
}

}  // namespace zcnet
