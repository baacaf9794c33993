// SendZc(fd, RxBuffer): received bytes sent on, from where they landed when
// the pool's area is mapped for transmission too.
#include <cerrno>
#include <utility>

#include "zcnet/rx_buffer.hpp"

namespace zcnet {

namespace detail {

void ForwardOp::OnCqe(Operation* o, const io_uring_cqe* cqe) {
  auto* op = static_cast<ForwardOp*>(o);
  if (cqe->flags & IORING_CQE_F_NOTIF) {
    // The kernel is done with the bytes: the buffer may take new data.
    op->pool->forward_stats.notifications++;
    if (cqe->res & IORING_NOTIF_USAGE_ZC_COPIED) op->pool->forward_stats.copied++;
    op->notification_due = false;
    delete op;  // releases the buffer
    return;
  }
  op->res = cqe->res;
  op->notification_due = cqe->flags & IORING_CQE_F_MORE;
  op->on_stop.reset();
  if (op->deadline_handle) op->ring().RemoveDeadline(std::exchange(op->deadline_handle, 0));
  // A plain send, or a zero-copy one that failed before lending the bytes:
  // the buffer is free once the waiter has the result.
  op->ResumeWaiter();
  if (!op->notification_due) delete op;
}

}  // namespace detail

bool ForwardAwaiter::await_ready() const noexcept {
  return buf_.empty() || !buf_.stream_ || options_.stop_requested() ||
         buf_.stream_->pool->ring->closing();
}

detail::ForwardOp* ForwardAwaiter::Submit() {
  detail::RxPoolCore* pool = buf_.stream_->pool;
  Ring& ring = *pool->ring;
  const std::byte* data = buf_.data();
  size_t size = buf_.size();
  auto* op = new detail::ForwardOp(ring, pool, std::move(buf_));
  io_uring_sqe* sqe = ring.GetSqe();
  uringx_zcrx* z = pool->forward_slot >= 0 ? uringx_rxsrc_zcrx(pool->src) : nullptr;
  op->zero_copy =
      z && uringx_zcrx_prep_send(z, sqe, fd_, data, size, MSG_WAITALL | MSG_NOSIGNAL) == 0;
  if (op->zero_copy) {
    pool->forward_stats.zc_sends++;
  } else {
    io_uring_prep_send(sqe, fd_, data, size, MSG_WAITALL | MSG_NOSIGNAL);
    pool->forward_stats.plain_sends++;
  }
  Ring::SetOp(sqe, op);
  ring.AddInFlight();
  if (options_.timeout) {
    op->deadline_handle = ring.AddDeadline(*options_.timeout, &Operation::CancelOnDeadline, op);
    if (!op->deadline_handle) ring.LinkTimeout(sqe, options_, &op->deadline);
  }
  if (options_.stop_possible()) op->on_stop.emplace(*options_.stop, detail::CancelOnStop{op});
  return op;
}

absl::StatusOr<size_t> ForwardAwaiter::await_resume() {
  if (!op_) {
    return buf_.empty() ? absl::InvalidArgumentError("send_zc: empty RxBuffer")
                        : ErrnoStatus("send_zc", ECANCELED);
  }
  // Called from inside ForwardOp::OnCqe, before the op may be freed.
  if (op_->res < 0) return ErrnoStatus(op_->zero_copy ? "send_zc" : "send", op_->res);
  return static_cast<size_t>(op_->res);
}

}  // namespace zcnet
