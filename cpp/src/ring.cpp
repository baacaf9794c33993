// Ring: setup, the CQE loop, draining and closing, and abandoned frames.
#include "zcnet/ring.hpp"

#include "zcnet/detail/deadline_queue.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <time.h>

#include <absl/strings/str_cat.h>

#include "zcnet/status.hpp"

namespace zcnet {

namespace detail {

size_t AbandonFrame(PromiseBase& p, PromiseBase* root) noexcept {
  p.abandon_root = root;
  Suspension* s = p.suspended_on;
  return s && s->abandon ? s->abandon(s, root) : 0;
}

namespace {

void FreeChain(PromiseBase& root) noexcept {
  void (*on_freed)(void*) = root.on_freed;
  void* ctx = root.on_freed_ctx;
  // Destroying the outermost frame destroys the Tasks it holds, and with
  // them the rest of the chain (DestroyOrAbandon sees abandon_root set).
  root.self.destroy();
  if (on_freed) on_freed(ctx);
}

}  // namespace

bool AbandonRoot(PromiseBase& p) noexcept {
  size_t pending = AbandonFrame(p, &p);
  if (pending == 0) {
    FreeChain(p);
    return true;
  }
  p.abandon_pending = pending;
  return false;
}

void AbandonedCompletion(PromiseBase* root) noexcept {
  if (--root->abandon_pending == 0) FreeChain(*root);
}

void DestroyOrAbandon(std::coroutine_handle<> handle, PromiseBase& promise) noexcept {
  // Finished, never started, suspended on something that is not zcnet's, or
  // part of a chain being freed: nothing of the kernel's points into it.
  if (handle.done() || promise.abandon_root || !promise.suspended_on) {
    handle.destroy();
    return;
  }
  AbandonRoot(promise);
}

}  // namespace detail

void Operation::Cancel() {
  // A request still in the SQ has not reached the kernel: it becomes a NOP
  // that completes with -ECANCELED, so it never touches its descriptor (the
  // number may belong to another socket by the time of the next submit).
  if (ring_->CancelUnsubmitted(Ring::kUserDataTag | reinterpret_cast<uint64_t>(this))) return;
  io_uring_sqe* sqe = ring_->GetSqe();
  io_uring_prep_cancel64(sqe, Ring::kUserDataTag | reinterpret_cast<uint64_t>(this),
                         IORING_ASYNC_CANCEL_ALL);
  Ring::SetOp(sqe, nullptr);
  ring_->AddInFlight();
}

size_t Operation::AbandonByCancel(detail::Suspension* s, detail::PromiseBase*) {
  static_cast<Operation*>(s)->Cancel();
  return 1;  // the request's own CQE (ResumeWaiter) completes the abandonment
}

void Operation::ResumeWaiter() {
  auto waiter = std::exchange(waiter_, nullptr);
  auto* promise = std::exchange(waiter_promise_, nullptr);
  if (!waiter) return;
  if (promise) {
    promise->suspended_on = nullptr;
    if (detail::PromiseBase* root = promise->abandon_root) {
      detail::AbandonedCompletion(root);
      return;
    }
  }
  waiter.resume();
}

void Wakeup::ArmTimer(absl::Duration d) {
  if (armed_) {
    if (cancelling_) rearm_ = d;
    return;
  }
  // A closing ring completes everything at once.
  ts_ = detail::ToTimespec(ring_->closing() ? absl::ZeroDuration() : d);
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
  const bool auto_wait = options.wait_batch == Options::kWaitBatchAuto;
  const bool batched_wait = !auto_wait && (options.wait_batch > 1 || options.wait_min_usec);
  if (batched_wait && (options.wait_batch < 2 || !options.wait_min_usec))
    return absl::InvalidArgumentError(absl::StrCat(
        "Ring::Options wait_batch = ", options.wait_batch, ", wait_min_usec = ",
        options.wait_min_usec, ": a batched wait needs both, a batch of 2 or more and a time bound"));
  if (options.cq_entries && (options.cq_entries < options.entries || options.cq_entries > 65536))
    return absl::InvalidArgumentError(absl::StrCat(
        "Ring::Options cq_entries = ", options.cq_entries, ": the completion queue takes from ",
        "entries (", options.entries, ") to 65536 CQEs"));
  auto ring = std::make_unique<io_uring>();
  io_uring_params params{};
  params.flags = options.flags;
  if (options.cq_entries) {
    params.flags |= IORING_SETUP_CQSIZE;
    params.cq_entries = options.cq_entries;
  }
  if (options.sqpoll) {
    params.flags |= IORING_SETUP_SQPOLL;
    params.sq_thread_idle = options.sqpoll_idle_ms;
  } else {
    params.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  }
  params.flags |= IORING_SETUP_SUBMIT_ALL;
  int ret = -EINVAL;
  if (options.cqe32 && options.cqe_mixed) {
    io_uring_params mixed = params;
    mixed.flags |= IORING_SETUP_CQE_MIXED;
    ret = io_uring_queue_init_params(options.entries, ring.get(), &mixed);
    if (ret == 0) params = mixed;
  }
  if (ret == -EINVAL) {  // no CQE_MIXED before 6.18: every CQE 32 bytes
    if (options.cqe32) params.flags |= IORING_SETUP_CQE32;
    ret = io_uring_queue_init_params(options.entries, ring.get(), &params);
  }
  if (ret < 0) {
    char what[96];
    std::snprintf(what, sizeof(what), "io_uring_queue_init(entries=%u, flags=0x%x)",
                  options.entries, params.flags);
    return ErrnoStatus(what, ret);
  }
  if (batched_wait && !(ring->features & IORING_FEAT_MIN_TIMEOUT)) {
    io_uring_queue_exit(ring.get());
    return absl::UnimplementedError(
        "Ring::Options wait_batch/wait_min_usec: the kernel lacks IORING_FEAT_MIN_TIMEOUT "
        "(batched waits with a minimum timeout, Linux 6.12+)");
  }
  if (options.napi_busy_poll_usec) {
    io_uring_napi napi{};
    napi.busy_poll_to = options.napi_busy_poll_usec;
    napi.prefer_busy_poll = options.napi_prefer_busy_poll ? 1 : 0;
    if (int r = io_uring_register_napi(ring.get(), &napi); r < 0) {
      io_uring_queue_exit(ring.get());
      return ErrnoStatus(absl::StrCat("Ring::Options napi_busy_poll_usec = ",
                                      options.napi_busy_poll_usec,
                                      ": IORING_REGISTER_NAPI (NAPI busy polling, Linux 6.9+)"),
                         r);
    }
  }
  if (options.fixed_files) {
    if (int r = io_uring_register_files_sparse(ring.get(), options.fixed_files); r < 0) {
      io_uring_queue_exit(ring.get());
      return ErrnoStatus(absl::StrCat("Ring::Options fixed_files = ", options.fixed_files,
                                      ": io_uring_register_files_sparse")
                             .c_str(),
                         r);
    }
  }
  auto self = std::unique_ptr<Ring>(new Ring(ring.get(), true));
  for (unsigned i = options.fixed_files; i > 0; i--) self->file_slots_.push_back(static_cast<int>(i - 1));
  self->napi_ = options.napi_busy_poll_usec != 0;
  if (ring->flags & IORING_SETUP_CQE32) self->cqe_bytes_ = 2 * sizeof(io_uring_cqe);
  if (ring->flags & IORING_SETUP_CQE_MIXED) self->cqe_bytes_ = 0;  // per CQE
  if (auto_wait && !options.sqpoll && (ring->features & IORING_FEAT_MIN_TIMEOUT)) {
    self->wait_batch_ = Options::kAutoWaitBatch;
    self->wait_min_usec_ = options.wait_min_usec ? options.wait_min_usec : Options::kAutoWaitMinUsec;
  } else if (batched_wait) {
    self->wait_batch_ = options.wait_batch;
    self->wait_min_usec_ = options.wait_min_usec;
  }
  if (self->wait_batch_ > 1) {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    self->last_pass_ns_ = int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
  }
  // One registration per ring; liburing unregisters it in io_uring_queue_exit.
  if (options.register_ring_fd && !options.sqpoll && io_uring_register_ring_fd(ring.get()) == 1)
    self->ring_fd_registered_ = true;
  self->own_ = std::move(ring);
  if (options.deadline_queue) self->deadlines_ = std::make_unique<detail::DeadlineQueue>(*self);
  return self;
}

uint64_t Ring::AddDeadline(absl::Duration timeout, void (*fn)(void* arg), void* arg) {
  if (!deadlines_) return 0;
  if (timeout < absl::ZeroDuration()) timeout = absl::ZeroDuration();
  // Saturated: an infinite (or centuries-long) timeout is a deadline at
  // INT64_MAX ns, which the kernel's timer takes as never.
  const int64_t now = detail::DeadlineQueue::NowNs();
  const int64_t ns = absl::ToInt64Nanoseconds(timeout);
  const int64_t when = ns > INT64_MAX - now ? INT64_MAX : now + ns;
  return deadlines_->Add(when, fn, arg);
}

void Ring::RemoveDeadline(uint64_t handle) {
  if (deadlines_) deadlines_->Remove(handle);
}

namespace detail {
uint64_t AddRingDeadline(Ring& ring, absl::Duration timeout, DeadlineQueue::Fn fn, void* arg) {
  return ring.AddDeadline(timeout, fn, arg);
}
void RemoveRingDeadline(Ring& ring, uint64_t handle) { ring.RemoveDeadline(handle); }
}  // namespace detail

uint64_t Ring::deadline_timer_sqes() const { return deadlines_ ? deadlines_->timer_sqes() : 0; }
uint64_t Ring::deadline_timer_fires() const { return deadlines_ ? deadlines_->timer_fires() : 0; }

std::unique_ptr<Ring> Ring::Borrow(io_uring* ring) {
  return std::unique_ptr<Ring>(new Ring(ring, false));
}

Ring::~Ring() {
  if (owning_) {
    closing_ = true;
    if (in_flight_) {
      // Every request on this ring is zcnet's: cancel them all at once.
      io_uring_sqe* sqe = GetSqe();
      io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
      SetOp(sqe, nullptr);
      AddInFlight();
    }
    Drain();
  }
  if (resources_) {
    std::fprintf(stderr,
                 "zcnet: Ring destroyed while %zu pool(s) or pooled buffer(s) on it are still "
                 "alive; destroy RxPool/TxPool, their streams and buffers before the Ring\n",
                 resources_);
    std::abort();
  }
  if (owning_) io_uring_queue_exit(ring_);
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

bool Ring::CancelUnsubmitted(uint64_t user_data) {
  io_uring_sq* sq = &ring_->sq;
  unsigned shift = (ring_->flags & IORING_SETUP_SQE128) ? 1 : 0;
  bool found = false;
  // [sqe_head, sqe_tail): prepared, not yet flushed to the kernel.
  for (unsigned i = sq->sqe_head; i != sq->sqe_tail; i++) {
    io_uring_sqe* sqe = &sq->sqes[(i & *sq->kring_mask) << shift];
    if (sqe->user_data != user_data || sqe->opcode == IORING_OP_NOP) continue;
    uint8_t keep = sqe->flags & (IOSQE_IO_LINK | IOSQE_IO_HARDLINK);
    io_uring_prep_nop(sqe);
    sqe->nop_flags = IORING_NOP_INJECT_RESULT;
    sqe->len = static_cast<uint32_t>(-ECANCELED);
    sqe->flags = keep;  // a linked timeout behind it is cancelled with it
    sqe->user_data = user_data;
    found = true;
  }
  return found;
}

int Ring::RegisterFile(int fd) {
  if (file_slots_.size() == files_in_use_ || fd < 0) return -1;
  // Free slots sit at the front of file_slots_, [0, size - in_use).
  const size_t top = file_slots_.size() - files_in_use_ - 1;
  int slot = file_slots_[top];
  if (io_uring_register_files_update(ring_, static_cast<unsigned>(slot), &fd, 1) != 1) return -1;
  files_in_use_++;
  return slot;
}

void Ring::UnregisterFile(int slot) {
  if (slot < 0) return;
  int none = -1;
  // Dropping the table's reference: the socket closes when its descriptor does.
  if (int r = io_uring_register_files_update(ring_, static_cast<unsigned>(slot), &none, 1); r != 1) {
    std::fprintf(stderr, "zcnet: Ring::UnregisterFile(%d): %s (on the ring's thread?)\n", slot,
                 strerror(r < 0 ? -r : EIO));
    return;  // the slot stays taken: never reused while the kernel holds a file there
  }
  files_in_use_--;
  file_slots_[file_slots_.size() - files_in_use_ - 1] = slot;
}

int Ring::ClaimFreeBufferSlot() {
  if (sparse_table_ == 0)
    sparse_table_ = io_uring_register_buffers_sparse(ring_, kBufferSlots) == 0 ? 1 : -1;
  if (sparse_table_ < 0) return -1;
  for (uint16_t i = 0; i < kBufferSlots; i++)
    if (ClaimBufferSlot(i)) return i;
  return -1;
}

bool Ring::ClaimBufferSlot(uint16_t index) {
  for (uint16_t held : buffer_slots_)
    if (held == index) return false;
  buffer_slots_.push_back(index);
  return true;
}

void Ring::ReleaseBufferSlot(uint16_t index) {
  for (size_t i = 0; i < buffer_slots_.size(); i++)
    if (buffer_slots_[i] == index) {
      buffer_slots_.erase(buffer_slots_.begin() + static_cast<ptrdiff_t>(i));
      return;
    }
}

void Ring::Reap() {
  io_uring_cqe* cqe;
  unsigned head, slots = 0;
  io_uring_for_each_cqe(ring_, head, cqe) {
    // A mixed ring's 32-byte CQEs take two slots, and its padding CQEs
    // (IORING_CQE_F_SKIP, before a 32-byte CQE that would wrap) none of ours.
    const unsigned nr = io_uring_cqe_nr(cqe);
    slots += nr;
    if (cqe_bytes_ == 0 && (cqe->flags & IORING_CQE_F_SKIP)) continue;
    ReapedCqe& copy = reaped_.emplace_back();
    std::memcpy(copy.bytes, cqe, cqe_bytes_ ? cqe_bytes_ : nr * sizeof(io_uring_cqe));
  }
  io_uring_cq_advance(ring_, slots);
}

void Ring::DispatchReaped() {
  while (reaped_head_ < reaped_.size()) {
    // Copied out first: a handler that drives the ring may grow reaped_.
    ReapedCqe cqe = reaped_[reaped_head_++];
    if (reaped_head_ == reaped_.size()) {
      reaped_.clear();
      reaped_head_ = 0;
    }
    cqes_handled_++;
    Handle(std::launder(reinterpret_cast<const io_uring_cqe*>(cqe.bytes)));
  }
}

void Ring::RunOnce() {
  const bool pending = reaped_head_ < reaped_.size();
  int ret;
  const bool batched = wait_batch_ > 1 && !pending && busy_;
  if (batched) {
    // Until wait_batch_ CQEs, or wait_min_usec_ with at least one. The
    // kernel takes the minimum only with an overall timeout: an hour (the
    // loop goes round on -ETIME).
    io_uring_cqe* cqe;
    __kernel_timespec hour{.tv_sec = 3600, .tv_nsec = 0};
    ret = io_uring_submit_and_wait_min_timeout(ring_, &cqe, wait_batch_, &hour, wait_min_usec_,
                                               nullptr);
  } else {
    ret = io_uring_submit_and_wait(ring_, pending ? 0 : 1);
  }
  enter_calls_++;
  if (ret < 0 && ret != -EINTR && ret != -ETIME && ret != -EBUSY) {
    std::fprintf(stderr, "zcnet: io_uring_submit_and_wait: %s\n", strerror(-ret));
    std::abort();
  }
  const size_t before = reaped_.size();
  Reap();
  if (wait_batch_ > 1) JudgeCompletionRate(reaped_.size() - before, batched);
  DispatchReaped();
}

// Batched waits engage while completions arrive fast enough to fill half a
// batch within the time bound: the rate, CQEs per nanosecond over the last
// passes (a moving average), times wait_min_usec_ reaches wait_batch_ / 2. A
// ping-pong (a completion or two per round trip of tens of microseconds)
// never waits for a batch that would not come; a server with many requests
// in flight does. A batched wait that ended short of its batch (the time
// bound passed) replaces the average with its own rate, so when the load
// falls one wait, not several, pays the bound.
void Ring::JudgeCompletionRate(size_t reaped, bool batched) {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const int64_t now = int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
  const double rate = static_cast<double>(reaped) /
                      static_cast<double>(std::max<int64_t>(now - last_pass_ns_, 1));
  last_pass_ns_ = now;
  cqe_rate_ = batched && reaped < wait_batch_ ? rate : 0.75 * cqe_rate_ + 0.25 * rate;
  busy_ = cqe_rate_ * 1000.0 * wait_min_usec_ >= std::max(2u, wait_batch_ / 2);
}

void Ring::Drain() {
  while (in_flight_) RunOnce();
  io_uring_submit(ring_);
}

}  // namespace zcnet
