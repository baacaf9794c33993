// Ring: setup, the CQE loop, draining, and abandoned frames.
#include "zcnet/ring.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "zcnet/status.hpp"

namespace zcnet {

namespace detail {

void DestroyOrAbandon(std::coroutine_handle<> handle, PromiseBase& promise) noexcept {
  if (!handle.done() && promise.pending_op) {
    // The kernel may still write into this frame: cancel, and let the
    // operation free the frame at its final CQE.
    promise.abandoned = true;
    promise.pending_op->Cancel();
    return;
  }
  handle.destroy();
}

}  // namespace detail

void Operation::Cancel() {
  io_uring_sqe* sqe = ring_->GetSqe();
  io_uring_prep_cancel64(sqe, Ring::kUserDataTag | reinterpret_cast<uint64_t>(this),
                         IORING_ASYNC_CANCEL_ALL);
  Ring::SetOp(sqe, nullptr);
  ring_->AddInFlight();
}

void Operation::ResumeWaiter() {
  auto waiter = std::exchange(waiter_, nullptr);
  auto* promise = std::exchange(waiter_promise_, nullptr);
  if (!waiter) return;
  promise->pending_op = nullptr;
  if (promise->abandoned) {
    waiter.destroy();
    return;
  }
  waiter.resume();
}

void Wakeup::ArmTimer(absl::Duration d) {
  if (armed_) {
    if (cancelling_) rearm_ = d;
    return;
  }
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  ts_.tv_sec = absl::ToInt64Seconds(d);
  ts_.tv_nsec = absl::ToInt64Nanoseconds(d - absl::Seconds(ts_.tv_sec));
  io_uring_sqe* sqe = ring_->GetSqe();
  io_uring_prep_timeout(sqe, &ts_, 0, 0);
  Ring::SetOp(sqe, this);
  ring_->AddInFlight();
  armed_ = true;
}

void Wakeup::ArmNow() {
  if (armed_) return;
  io_uring_sqe* sqe = ring_->GetSqe();
  io_uring_prep_nop(sqe);
  Ring::SetOp(sqe, this);
  ring_->AddInFlight();
  armed_ = true;
}

void Wakeup::Disarm() {
  rearm_.reset();
  if (armed_ && !cancelling_) {
    Cancel();
    cancelling_ = true;
  }
}

void Wakeup::OnCqe(Operation* op, const io_uring_cqe* cqe) {
  auto* w = static_cast<Wakeup*>(op);
  int res = cqe->res;
  w->armed_ = false;
  if (std::exchange(w->cancelling_, false)) {
    res = -ECANCELED;  // disarmed: whatever it completed with is stale
    if (auto d = std::exchange(w->rearm_, std::nullopt)) w->ArmTimer(*d);
  }
  w->fn_(w->owner_, res);  // may free the owner: last
}

absl::StatusOr<std::unique_ptr<Ring>> Ring::Create(const Options& options) {
  auto ring = std::make_unique<io_uring>();
  io_uring_params params{};
  params.flags = options.flags;
  if (options.sqpoll) {
    params.flags |= IORING_SETUP_SQPOLL;
    params.sq_thread_idle = options.sqpoll_idle_ms;
  } else {
    params.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  }
  if (options.cqe32) params.flags |= IORING_SETUP_CQE32;
  params.flags |= IORING_SETUP_SUBMIT_ALL;
  int ret = io_uring_queue_init_params(options.entries, ring.get(), &params);
  if (ret < 0) {
    char what[96];
    std::snprintf(what, sizeof(what), "io_uring_queue_init(entries=%u, flags=0x%x)",
                  options.entries, params.flags);
    return ErrnoStatus(what, ret);
  }
  auto self = std::unique_ptr<Ring>(new Ring(ring.get(), true));
  self->own_ = std::move(ring);
  return self;
}

std::unique_ptr<Ring> Ring::Borrow(io_uring* ring) {
  return std::unique_ptr<Ring>(new Ring(ring, false));
}

Ring::~Ring() {
  if (!owning_) return;
  Drain();
  io_uring_queue_exit(ring_);
}

io_uring_sqe* Ring::GetSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(ring_);
  if (sqe) return sqe;
  if (owning_) {
    io_uring_submit(ring_);
    enter_calls_++;
    sqe = io_uring_get_sqe(ring_);
  }
  if (!sqe) {
    // Borrowed ring with a full SQ: the application must submit more often.
    std::fprintf(stderr,
                 "zcnet: the borrowed io_uring's submission queue is full; submit before "
                 "handing control to zcnet (or size the SQ for both users)\n");
    std::abort();
  }
  return sqe;
}

void Ring::RunOnce() {
  int ret = io_uring_submit_and_wait(ring_, 1);
  enter_calls_++;
  if (ret < 0 && ret != -EINTR && ret != -ETIME && ret != -EBUSY) {
    std::fprintf(stderr, "zcnet: io_uring_submit_and_wait: %s\n", strerror(-ret));
    std::abort();
  }
  io_uring_cqe* cqe;
  unsigned head, seen = 0;
  io_uring_for_each_cqe(ring_, head, cqe) {
    seen++;
    Handle(cqe);
  }
  io_uring_cq_advance(ring_, seen);
}

void Ring::Drain() {
  while (in_flight_) RunOnce();
  io_uring_submit(ring_);
}

}  // namespace zcnet
