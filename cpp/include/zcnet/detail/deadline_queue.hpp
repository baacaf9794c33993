// zcnet/detail/deadline_queue.hpp - every deadline of an owning Ring behind
// one kernel timer.
//
// OpOptions::timeout on a request and on a stream's Next() used to cost the
// request its own timer: an IORING_OP_LINK_TIMEOUT (one more SQE and CQE per
// request) or an IORING_OP_TIMEOUT and its cancel (two of each per wait).
// Here a deadline is an entry in a min-heap, and one IORING_OP_TIMEOUT
// (absolute, CLOCK_MONOTONIC) is armed for the earliest. Adding a deadline
// later than the armed one (the usual case: every request gets now + T)
// touches no SQE; an earlier one moves the armed timer
// (IORING_OP_TIMEOUT_REMOVE with IORING_TIMEOUT_UPDATE). Removing one (the
// request completed first) marks its slot free; its heap entry is dropped
// when it reaches the top, or when the heap is rebuilt from the live
// entries once it holds four times as many as live. When the timer fires,
// the expired deadlines' callbacks run from the CQE loop one by one, the
// timer armed again for the rest before each (no sooner than 0.5 ms later,
// so deadlines a few microseconds apart take one more fire, not one each).
// So an RPC server with a deadline on every request pays one timer CQE per
// timeout interval, not one per request.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <vector>

#include <absl/time/time.h>

#include "zcnet/operation.hpp"

namespace zcnet {
namespace detail {

class DeadlineQueue : public Operation {
 public:
  using Fn = void (*)(void* arg);

  explicit DeadlineQueue(Ring& ring);

  // Runs @fn(@arg) from the CQE loop once @when_ns (CLOCK_MONOTONIC) has
  // passed, unless Remove(handle) comes first. Never 0.
  uint64_t Add(int64_t when_ns, Fn fn, void* arg);
  // Forgets a deadline that has not fired; a stale handle is ignored.
  void Remove(uint64_t handle);

  static int64_t NowNs();
  // IORING_OP_TIMEOUT arms and updates submitted, and timer CQEs handled:
  // what the deadlines cost in SQEs and CQEs.
  uint64_t timer_sqes() const { return timer_sqes_; }
  uint64_t timer_fires() const { return timer_fires_; }

 private:
  struct Slot {
    Fn fn = nullptr;
    void* arg = nullptr;
    uint32_t gen = 1;
  };
  struct Entry {
    int64_t when;
    uint32_t slot;
    uint32_t gen;
  };
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const { return a.when > b.when; }
  };

  static void OnCqe(Operation* op, const io_uring_cqe* cqe);
  bool Live(const Entry& e) const { return slots_[e.slot].gen == e.gen; }
  void Free(uint32_t slot);
  // Drops dead entries at the top, then arms (or moves) the timer for the
  // earliest live one, or @not_before if later, unless the armed timer is
  // earlier already.
  void Rearm(int64_t not_before = 0);
  // After a fire, the next one comes no sooner than this: deadlines a few
  // microseconds apart expire together, at most this late.
  static constexpr int64_t kSlackNs = 500 * 1000;

  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  std::vector<Entry> heap_;  // std::push_heap with Later: the earliest on top
  size_t live_ = 0;
  bool armed_ = false;
  int64_t armed_when_ = 0;
  __kernel_timespec ts_{};  // read by the kernel when the SQE is submitted
  uint64_t timer_sqes_ = 0;
  uint64_t timer_fires_ = 0;
};

// Ring::AddDeadline and RemoveDeadline for headers that only see a forward
// declaration of Ring (the stream templates).
uint64_t AddRingDeadline(Ring& ring, absl::Duration timeout, DeadlineQueue::Fn fn, void* arg);
void RemoveRingDeadline(Ring& ring, uint64_t handle);

}  // namespace detail
}  // namespace zcnet
