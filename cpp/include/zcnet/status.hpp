// zcnet/status.hpp - errno to absl::Status, with the operation named.
#pragma once

#include <absl/status/status.h>

#include <absl/strings/string_view.h>

namespace zcnet {

// ErrnoStatus returns an error naming @operation and the errno @err (negative
// like io_uring's CQE res, or positive). The code follows the errno
// (ECANCELED -> kCancelled, ETIME -> kDeadlineExceeded, EBADF -> kInvalidArgument,
// ECONNRESET -> kUnavailable, ENOBUFS/ENOMEM/EMFILE -> kResourceExhausted, ...).
absl::Status ErrnoStatus(absl::string_view operation, int err);

// ReasonStatus is ErrnoStatus with liburing-ext's explanation appended
// ("... : NIC lacks header/data split ..."); for the memlock reason also
// the current RLIMIT_MEMLOCK.
absl::Status ReasonStatus(absl::string_view operation, int err, int reason);

}  // namespace zcnet
