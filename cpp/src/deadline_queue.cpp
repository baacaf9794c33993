// Every deadline of an owning Ring behind one kernel timer.
#include "zcnet/detail/deadline_queue.hpp"

#include <time.h>

#include <algorithm>

#include "zcnet/ring.hpp"

namespace zcnet {
namespace detail {

DeadlineQueue::DeadlineQueue(Ring& ring) : Operation(ring, &DeadlineQueue::OnCqe) {
  // The timer never ends on its own account: it must not keep Drain() or
  // Run() waiting. An owning ~Ring cancels it with everything else, or, with
  // nothing else in flight, io_uring_queue_exit() takes it down.
  counted_ = false;
}

int64_t DeadlineQueue::NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

uint64_t DeadlineQueue::Add(int64_t when_ns, Fn fn, void* arg) {
  uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[slot];
  s.fn = fn;
  s.arg = arg;
  live_++;
  heap_.push_back(Entry{when_ns, slot, s.gen});
  std::push_heap(heap_.begin(), heap_.end(), Later{});
  if (!armed_ || when_ns < armed_when_) Rearm();
  return (static_cast<uint64_t>(s.gen) << 32) | slot;
}

void DeadlineQueue::Free(uint32_t slot) {
  Slot& s = slots_[slot];
  s.fn = nullptr;
  s.arg = nullptr;
  if (++s.gen == 0) s.gen = 1;  // handles are never 0
  free_.push_back(slot);
  live_--;
}

void DeadlineQueue::Remove(uint64_t handle) {
  const auto slot = static_cast<uint32_t>(handle);
  const auto gen = static_cast<uint32_t>(handle >> 32);
  if (slot >= slots_.size() || slots_[slot].gen != gen) return;
  Free(slot);
  if (live_ == 0) {
    heap_.clear();  // the armed timer fires once more and finds nothing
  } else if (heap_.size() > 64 && heap_.size() > 4 * live_) {
    std::erase_if(heap_, [this](const Entry& e) { return !Live(e); });
    std::make_heap(heap_.begin(), heap_.end(), Later{});
  }
}

void DeadlineQueue::Rearm(int64_t not_before) {
  while (!heap_.empty() && !Live(heap_.front())) {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    heap_.pop_back();
  }
  if (heap_.empty() || ring().closing()) return;
  const int64_t when = std::max(heap_.front().when, not_before);
  if (armed_ && when >= armed_when_) return;
  ts_ = __kernel_timespec{when / 1000000000, when % 1000000000};
  io_uring_sqe* sqe = ring().GetSqe();
  if (!armed_) {
    io_uring_prep_timeout(sqe, &ts_, 0, IORING_TIMEOUT_ABS);
    Ring::SetOp(sqe, this);
  } else {
    // Moves the armed timer; the update's own CQE is ignored (ENOENT when
    // the timer fired meanwhile: its CQE then arms again from the heap).
    io_uring_prep_timeout_update(sqe, &ts_, Ring::kUserDataTag | reinterpret_cast<uint64_t>(this),
                                 IORING_TIMEOUT_ABS);
    Ring::SetOp(sqe, nullptr);
    ring().AddInFlight();
  }
  armed_ = true;
  armed_when_ = when;
  timer_sqes_++;
}

void DeadlineQueue::OnCqe(Operation* op, const io_uring_cqe* cqe) {
  auto* q = static_cast<DeadlineQueue*>(op);
  q->armed_ = false;
  q->timer_fires_++;
  if (cqe->res == -ECANCELED || q->ring().closing()) return;  // the ring is closing
  const int64_t now = NowNs();
  // Deadlines due within kSlackNs after this fire are left to one more
  // fire then, not a fire each (adds a few microseconds apart, one pass).
  const int64_t not_before = now + kSlackNs;
  // One due deadline at a time, the timer armed for the rest before its
  // callback runs: a callback resumes a coroutine, which may add and remove
  // deadlines, drive the ring in a nested loop (whose waits the next
  // deadlines must still end) or throw (the rest stay queued and armed).
  for (;;) {
    while (!q->heap_.empty() && !q->Live(q->heap_.front())) {
      std::pop_heap(q->heap_.begin(), q->heap_.end(), Later{});
      q->heap_.pop_back();
    }
    if (q->heap_.empty() || q->heap_.front().when > now) break;
    std::pop_heap(q->heap_.begin(), q->heap_.end(), Later{});
    const Entry e = q->heap_.back();
    q->heap_.pop_back();
    Slot& s = q->slots_[e.slot];
    Fn fn = s.fn;
    void* arg = s.arg;
    q->Free(e.slot);
    q->Rearm(not_before);
    fn(arg);
  }
  q->Rearm(not_before);
}

}  // namespace detail
}  // namespace zcnet
