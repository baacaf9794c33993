// TxPool, TxBuffer, SendZc: registered chunks lent to the kernel until notified.
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "zcnet/tx_buffer.hpp"

namespace zcnet {

void TxBuffer::Reset() {
  if (pool_) std::exchange(pool_, nullptr)->Free(chunk_.token);
}

absl::StatusOr<std::unique_ptr<TxPool>> TxPool::Create(Ring& ring, const Options& options) {
  uringx_bufpool_params params{options.chunk_size, options.chunks, 0, options.buf_index};
  uringx_bufpool* pool = nullptr;
  uringx_reason reason = URINGX_REASON_NONE;
  int ret = uringx_bufpool_create(ring.raw(), &params, &pool, &reason);
  if (ret < 0) return ReasonStatus("TxPool::Create", ret, reason);
  return std::unique_ptr<TxPool>(new TxPool(ring, pool, options));
}

TxPool::TxPool(Ring& ring, uringx_bufpool* pool, const Options& options)
    : ring_(&ring), pool_(pool), options_(options), free_wakeup_(ring, this, &TxPool::OnFreeWakeup) {
  slots_.reserve(uringx_bufpool_nr_chunks(pool));
  for (uint32_t i = 0; i < uringx_bufpool_nr_chunks(pool); i++)
    slots_.push_back(std::make_unique<SendSlot>(ring, this));
}

TxPool::~TxPool() {
  // Pages lent to the kernel must stay mapped until their notification,
  // and a pending wake-up's CQE still points at this pool.
  while ((lent_ || free_wakeup_.armed()) && ring_->owning()) ring_->RunOnce();
  if (lent_ || free_wakeup_.armed()) {
    std::fprintf(stderr,
                 "zcnet: TxPool destroyed with %u send(s) awaiting their notification%s on a "
                 "borrowed ring; hand their CQEs to Ring::Handle() first\n",
                 lent_, free_wakeup_.armed() ? " and a wake-up" : "");
    std::abort();
  }
  uringx_bufpool_destroy(pool_);
}

absl::StatusOr<TxBuffer> TxPool::Allocate() {
  uringx_chunk c;
  int ret = uringx_bufpool_alloc(pool_, &c);
  if (ret < 0) return ErrnoStatus("TxPool::Allocate", ret);
  return TxBuffer(this, c);
}

struct TxPool::FreeWaiter {
  TxPool* pool;
  bool await_ready() const noexcept { return pool->free_chunks() > 0; }
  void await_suspend(std::coroutine_handle<> h) { pool->free_waiters_.push_back(h); }
  void await_resume() const noexcept {}
};

Task<absl::StatusOr<TxBuffer>> TxPool::Acquire() {
  for (;;) {
    absl::StatusOr<TxBuffer> b = Allocate();
    if (b.ok() || !absl::IsResourceExhausted(b.status())) co_return b;
    co_await FreeWaiter{this};
  }
}

void TxPool::Free(uint64_t token) {
  uringx_bufpool_free(pool_, token);
  ChunkReturned();
}

void TxPool::ChunkReturned() {
  if (!free_waiters_.empty() && free_chunks()) free_wakeup_.ArmNow();
}

void TxPool::OnFreeWakeup(void* owner, int) {
  auto* pool = static_cast<TxPool*>(owner);
  if (pool->free_waiters_.empty() || !pool->free_chunks()) return;
  auto h = pool->free_waiters_.front();
  pool->free_waiters_.erase(pool->free_waiters_.begin());
  pool->ChunkReturned();  // more chunks for more waiters: one wake-up each
  h.resume();             // may destroy the pool: last
}

TxPool::SendSlot* SendZcAwaiter::Submit() {
  TxPool* pool = buf_.pool_;
  uint32_t index = static_cast<uint32_t>(
      (static_cast<std::byte*>(buf_.chunk_.addr) - static_cast<std::byte*>(uringx_bufpool_base(pool->pool_))) /
      uringx_bufpool_chunk_size(pool->pool_));
  TxPool::SendSlot* slot = pool->slots_[index].get();
  Ring& ring = *pool->ring_;
  slot->token = buf_.chunk_.token;
  slot->bytes = static_cast<uint32_t>(buf_.size_);
  slot->res = 0;
  bool is_short = buf_.size_ < pool->options_.zc_min_bytes;
  slot->zero_copy = !is_short && !(pool->options_.copy_fallback && pool->copies_seen_);

  io_uring_sqe* sqe = ring.GetSqe();
  if (slot->zero_copy) {
    uringx_bufpool_lend(pool->pool_, slot->token);
    io_uring_prep_send_zc_fixed(sqe, fd_, buf_.chunk_.addr, buf_.size_, MSG_WAITALL | MSG_NOSIGNAL,
                                IORING_SEND_ZC_REPORT_USAGE, buf_.chunk_.buf_index);
    pool->stats_.zc_sends++;
  } else {
    // The kernel copies when the send runs, maybe after a wait: lent until then.
    uringx_bufpool_lend(pool->pool_, slot->token);
    io_uring_prep_send(sqe, fd_, buf_.chunk_.addr, buf_.size_, MSG_WAITALL | MSG_NOSIGNAL);
    pool->stats_.plain_sends++;
    if (is_short) pool->stats_.short_sends++;
  }
  Ring::SetOp(sqe, slot);
  ring.AddInFlight();
  pool->lent_++;
  if (options_.timeout) {
    sqe->flags |= IOSQE_IO_LINK;
    absl::Duration d = std::max(*options_.timeout, absl::ZeroDuration());
    slot->deadline.tv_sec = absl::ToInt64Seconds(d);
    slot->deadline.tv_nsec = absl::ToInt64Nanoseconds(d - absl::Seconds(slot->deadline.tv_sec));
    io_uring_sqe* t = ring.GetSqe();
    io_uring_prep_link_timeout(t, &slot->deadline, 0);
    Ring::SetOp(t, nullptr);
    ring.AddInFlight();
  }
  if (options_.stop_possible()) slot->on_stop.emplace(*options_.stop, detail::CancelOnStop{slot});
  // The application's free of the chunk is deferred by the lend above.
  buf_.Reset();
  return slot;
}

void TxPool::SendSlot::OnCqe(Operation* op, const io_uring_cqe* cqe) {
  auto* slot = static_cast<SendSlot*>(op);
  TxPool* pool = slot->pool;
  if (cqe->flags & IORING_CQE_F_NOTIF) {
    bool copied = cqe->res & IORING_NOTIF_USAGE_ZC_COPIED;
    (copied ? pool->stats_.bytes_copied : pool->stats_.bytes_zerocopy) +=
        static_cast<uint64_t>(slot->res > 0 ? slot->res : 0);
    pool->stats_.notifications++;
    // Copying has to be the rule, not an accident, before the pool gives up
    // on zero copy: loopback copies every send, a NIC path may copy the odd
    // one (the first sends of a connection, for instance).
    if (pool->stats_.notifications >= kCopyVerdictNotifications &&
        pool->stats_.bytes_copied > pool->stats_.bytes_zerocopy)
      pool->copies_seen_ = true;
    pool->lent_--;
    uringx_bufpool_unlend(pool->pool_, slot->token);
    pool->ChunkReturned();
    return;
  }
  slot->res = cqe->res;
  slot->on_stop.reset();
  if (!(cqe->flags & IORING_CQE_F_MORE)) {
    // Plain send, or a zero-copy send that failed before lending pages.
    pool->lent_--;
    uringx_bufpool_unlend(pool->pool_, slot->token);
    pool->ChunkReturned();
  }
  slot->ResumeWaiter();  // may destroy an abandoned frame (or the pool): last
}

}  // namespace zcnet
