// Drives a multishot receive from a uringx_rxsrc until the stream ends,
// verifying every byte against a SeededStream.
#pragma once

#include <uringx/uringx.h>

#include <cstdint>
#include <deque>
#include <vector>

#include "loopback.hpp"

namespace testsupport {

enum class HoldPolicy {
  kReleaseAtOnce,       // release each view right after verifying it
  kHoldUntilStarved,    // keep every view until the source runs dry
  kHoldWindow,          // keep the newest `window` views
  // Keep every view until no completion came for `stall_ms`, then give all
  // back: a NIC queue whose zcrx area is empty drops frames rather than
  // ending the receive, so the stream stalls until buffers return.
  kHoldUntilStalled,
};

struct RxLoopOptions {
  HoldPolicy hold = HoldPolicy::kReleaseAtOnce;
  size_t window = 0;
  // Cancel the armed receive after this many data CQEs (0: never), then re-arm.
  uint64_t cancel_after_cqes = 0;
  // Stop with a failure after this long without progress.
  int idle_timeout_ms = 20000;
  int stall_ms = 300;  // kHoldUntilStalled
};

struct RxLoopResult {
  uint64_t bytes = 0;
  uint64_t data_cqes = 0;
  uint64_t arms = 0;
  uint64_t starved_rearms = 0;   // out_of_buffers endings
  uint64_t cancels = 0;        // receives ended by a cancel (-ECANCELED)
  uint64_t cancels_found = 0;  // cancels that found the receive armed
  uint32_t max_views_per_cqe = 0;
  uint64_t buf_more_cqes = 0;    // IORING_CQE_F_BUF_MORE seen
  uint64_t zcrx_events = 0;
  uint64_t stalls = 0;           // kHoldUntilStalled: times it stalled holding views
  bool eof = false;
  int error = 0;                 // stream error (negative errno)
  long first_mismatch = -1;      // byte offset of the first corrupt byte
  int loop_error = 0;            // the loop itself failed (decode, timeout)
  // At a timeout: the socket's TCP state (TCP_INFO) and pending SO_ERROR.
  int timeout_tcp_state = -1;
  int timeout_so_error = 0;
  bool views_in_area = true;     // zcrx: every view inside the area
};

RxLoopResult RunRxLoop(io_uring* ring, uringx_rxsrc* src, int fd, uint64_t seed,
                       const RxLoopOptions& options);

}  // namespace testsupport
