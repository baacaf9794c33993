// Every deadline of an owning Ring behind one kernel timer.
#include "zcnet/detail/deadline_queue.hpp"

#include <time.h>

#include <algorithm>

#include "zcnet/ring.hpp"

namespace zcnet {
namespace detail {

DeadlineQueue::DeadlineQueue(Ring& ring) : Operation(ring, &DeadlineQueue::OnCqe) {
  // The timer never ends on its own account: it must not keep Drain() or
  // Run() waiting; ~Ring cancels it with everything else.
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

void DeadlineQueue::Rearm() {
  while (!heap_.empty() && !Live(heap_.front())) {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    heap_.pop_back();
  }
  if (heap_.empty() || ring().closing()) return;
  const int64_t when = heap_.front().when;
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
  // Take the expired entries out first: the callbacks resume coroutines,
  // which add and remove deadlines.
  q->expired_.clear();
  while (!q->heap_.empty() && q->heap_.front().when <= now) {
    std::pop_heap(q->heap_.begin(), q->heap_.end(), Later{});
    q->expired_.push_back(q->heap_.back());
    q->heap_.pop_back();
  }
  // Swapped out: a callback's nested CQE loop may fire the timer again.
  std::vector<Entry> expired;
  expired.swap(q->expired_);
  for (const Entry& e : expired) {
    if (!q->Live(e)) continue;  // removed, possibly by an earlier callback
    Slot& s = q->slots_[e.slot];
    Fn fn = s.fn;
    void* arg = s.arg;
    q->Free(e.slot);
    fn(arg);
  }
  expired.clear();
  if (q->expired_.capacity() < expired.capacity()) q->expired_.swap(expired);
  q->Rearm();
}

}  // namespace detail
}  // namespace zcnet
