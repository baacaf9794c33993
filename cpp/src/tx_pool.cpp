// TxPool, TxBuffer, SendZc: registered chunks lent to the kernel until notified.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include <absl/strings/str_cat.h>

#include "zcnet/net/socket.hpp"
#include "zcnet/tx_buffer.hpp"

namespace zcnet {

namespace detail {

TxPoolCore::TxPoolCore(Ring& r, uringx_bufpool* p, const TxPool::Options& o)
    : ring(&r), pool(p), options(o), free_wakeup(r, this, &TxPoolCore::OnFreeWakeup) {
  slots.reserve(uringx_bufpool_nr_chunks(p));
  for (uint32_t i = 0; i < uringx_bufpool_nr_chunks(p); i++)
    slots.push_back(std::make_unique<SendSlot>(r, this));
  ring->AttachResource();
}

TxPoolCore::~TxPoolCore() {
  uringx_bufpool_destroy(pool);
  ring->ReleaseBufferSlot(static_cast<uint16_t>(options.buf_index));
  ring->DetachResource();
}

void TxPoolCore::MaybeFree() {
  if (!handle_alive && !buffers_out && !lent && !dispatching && !free_wakeup.armed()) delete this;
}

absl::StatusOr<TxBuffer> TxPoolCore::Allocate() {
  uringx_chunk c;
  int ret = uringx_bufpool_alloc(pool, &c);
  if (ret < 0) return ErrnoStatus("TxPool::Allocate", ret);
  buffers_out++;
  return TxBuffer(this, c);
}

void TxPoolCore::Free(uint64_t token) {
  uringx_bufpool_free(pool, token);
  buffers_out--;
  ChunkReturned();
  MaybeFree();
}

void TxPoolCore::ChunkReturned() {
  if (waiters_head && uringx_bufpool_nr_free(pool)) free_wakeup.ArmNow();
}

void TxPoolCore::OnFreeWakeup(void* owner, int) {
  auto* core = static_cast<TxPoolCore*>(owner);
  AcquireAwaiter* w = core->waiters_head;
  if (!w || !uringx_bufpool_nr_free(core->pool)) {
    core->MaybeFree();
    return;
  }
  core->waiters_head = w->next_;
  if (w->next_) w->next_->prev_link_ = &core->waiters_head;
  else core->waiters_tail = &core->waiters_head;
  w->prev_link_ = nullptr;
  core->ChunkReturned();  // more chunks for more waiters: one wake-up each
  if (w->promise_) w->promise_->suspended_on = nullptr;
  w->waiter_.resume();  // may destroy the pool handle: last
}

SocketCopyVerdict* TxPoolCore::VerdictOf(int fd) {
  if (fd < 0) return nullptr;
  if (static_cast<size_t>(fd) >= verdicts.size()) verdicts.resize(static_cast<size_t>(fd) + 1);
  return &verdicts[static_cast<size_t>(fd)];
}

bool TxPoolCore::ZeroCopyFor(int fd, size_t bytes) {
  if (bytes < options.zc_min_bytes) return false;
  if (!options.copy_fallback) return true;
  SocketCopyVerdict* v = VerdictOf(fd);
  if (!v || !v->copies) return true;
  if (++v->plain_sends < TxPool::kCopyVerdictRetrySends) return false;
  // Judge the socket afresh: its route (or the connection behind the number)
  // may have changed.
  *v = SocketCopyVerdict{};
  copying_sockets--;
  return true;
}

void TxPoolCore::MarkCopies(int fd) {
  SocketCopyVerdict* v = VerdictOf(fd);
  if (!v || v->copies) return;
  v->copies = true;
  v->plain_sends = 0;
  copying_sockets++;
}

void TxPoolCore::JudgeNotification(int fd, uint64_t bytes, bool copied) {
  (copied ? stats.bytes_copied : stats.bytes_zerocopy) += bytes;
  stats.notifications++;
  SocketCopyVerdict* v = options.copy_fallback ? VerdictOf(fd) : nullptr;
  if (!v || v->copies) return;
  (copied ? v->bytes_copied : v->bytes_zerocopy) += bytes;
  v->notifications++;
  // Copying has to be the rule, not an accident, before the socket gives up
  // on zero copy: loopback copies every send, a NIC path may copy the odd
  // one (the first sends of a connection, for instance).
  if (v->notifications >= TxPool::kCopyVerdictNotifications &&
      v->bytes_copied > v->bytes_zerocopy) {
    v->copies = true;
    v->plain_sends = 0;
    copying_sockets++;
  }
}

// Sends the slot's chunk again as a plain send: the zero-copy send failed
// with EOPNOTSUPP before a byte left (a socket without zero copy at all, a
// Unix-domain socket say), and the chunk is still lent.
void SendSlot::ResendPlain() {
  pool->MarkCopies(fd);
  zero_copy = false;
  pool->stats.zc_sends--;
  pool->stats.plain_sends++;
  io_uring_sqe* sqe = pool->ring->GetSqe();
  pool->PrepPlainSend(sqe, fd, addr, bytes);
  Ring::SetOp(sqe, this);
  pool->ring->AddInFlight();
}

void TxPoolCore::PrepPlainSend(io_uring_sqe* sqe, int fd, const void* addr, uint32_t bytes) {
  if (uringx_bufpool_prep_send(pool, sqe, fd, addr, bytes, MSG_WAITALL | MSG_NOSIGNAL))
    stats.fixed_plain_ops++;
}

// The kernel is done with the chunk: it returns to the pool (or the caller).
void SendSlot::EndLend() {
  pool->lent--;
  uringx_bufpool_unlend(pool->pool, token);
  pool->ChunkReturned();
}

// The send's result reaches its waiter. The waiter may destroy the handle;
// the core (and this slot) stays until the resume returns.
void SendSlot::Finish(int result) {
  res = result;
  on_stop.reset();
  if (deadline_handle) ring().RemoveDeadline(std::exchange(deadline_handle, 0));
  pool->dispatching++;
  ResumeWaiter();
  pool->dispatching--;
  pool->MaybeFree();
}

void SendSlot::OnCqe(Operation* op, const io_uring_cqe* cqe) {
  auto* slot = static_cast<SendSlot*>(op);
  TxPoolCore* core = slot->pool;
  if (cqe->flags & IORING_CQE_F_NOTIF) {
    if (slot->resend_plain) {
      // The failed send's notification: the chunk stays lent to the resend,
      // unless the ring is closing, when the caller gets the error.
      slot->resend_plain = false;
      if (!core->ring->closing()) {
        slot->ResendPlain();
        return;
      }
      slot->EndLend();
      slot->Finish(-EOPNOTSUPP);
      return;
    }
    core->JudgeNotification(slot->fd, static_cast<uint64_t>(slot->res > 0 ? slot->res : 0),
                            cqe->res & IORING_NOTIF_USAGE_ZC_COPIED);
    slot->EndLend();
    core->MaybeFree();
    return;
  }
  if (cqe->res == -EOPNOTSUPP && slot->zero_copy && core->options.copy_fallback &&
      !core->ring->closing()) {
    // Nothing for the caller yet: the same bytes go again as a plain send,
    // now, or at the notification the kernel still owes for this send.
    if (cqe->flags & IORING_CQE_F_MORE) slot->resend_plain = true;
    else slot->ResendPlain();
    return;
  }
  // Plain send, or a zero-copy send that failed before lending pages: no
  // notification follows.
  if (!(cqe->flags & IORING_CQE_F_MORE)) slot->EndLend();
  slot->Finish(cqe->res);
}

}  // namespace detail

void TxBuffer::Reset() {
  if (pool_) std::exchange(pool_, nullptr)->Free(chunk_.token);
}

absl::StatusOr<std::unique_ptr<TxPool>> TxPool::Create(Ring& ring, const Options& options) {
  Options o = options;
  if (o.buf_index == Options::kAnyBufferSlot) {
    int slot = ring.ClaimFreeBufferSlot();
    if (slot < 0)
      return absl::FailedPreconditionError(absl::StrCat(
          "TxPool::Create: no free fixed-buffer slot (the ring has a buffer table of the "
          "application's, or all ", Ring::kBufferSlots,
          " of zcnet's are held): set Options::buf_index to a slot of your table"));
    o.buf_index = static_cast<uint16_t>(slot);
  } else if (o.buf_index > 0xffff || !ring.ClaimBufferSlot(static_cast<uint16_t>(o.buf_index))) {
    return absl::FailedPreconditionError(absl::StrCat(
        "TxPool::Create: fixed-buffer slot ", o.buf_index,
        " is out of range or held by another TxPool on this ring (alive, or destroyed and "
        "still waiting for its sends' notifications)"));
  }
  uringx_bufpool_params params{o.chunk_size, o.chunks,
                               o.fixed_plain ? 0u : uint32_t{URINGX_BUFPOOL_NO_FIXED_PLAIN},
                               static_cast<uint16_t>(o.buf_index)};
  uringx_bufpool* pool = nullptr;
  uringx_reason reason = URINGX_REASON_NONE;
  std::string nic_fallback;
  int ret;
  if (!o.nic_ifname.empty()) {
    ret = uringx_bufpool_create_nic(ring.raw(), &params, o.nic_ifname.c_str(), &pool, &reason);
    if (ret < 0) {
      if (o.nic == Options::Nic::kRequire) {
        ring.ReleaseBufferSlot(static_cast<uint16_t>(o.buf_index));
        return ReasonStatus(absl::StrCat("TxPool::Create: NIC-registered pool on ", o.nic_ifname),
                            ret, reason);
      }
      nic_fallback = absl::StrCat("NIC-registered pool on ", o.nic_ifname, " unavailable: ",
                                  uringx_reason_str(reason), " (", uringx_strerror(ret), ")");
      pool = nullptr;
    }
  }
  if (!pool) {
    ret = uringx_bufpool_create(ring.raw(), &params, &pool, &reason);
    if (ret < 0) {
      ring.ReleaseBufferSlot(static_cast<uint16_t>(o.buf_index));
      return ReasonStatus("TxPool::Create", ret, reason);
    }
  }
  auto* core = new detail::TxPoolCore(ring, pool, o);
  core->nic_fallback_reason = std::move(nic_fallback);
  return std::unique_ptr<TxPool>(new TxPool(core));
}

TxPool::~TxPool() {
  // Queued Acquire() waiters stay queued: every chunk is out or lent while
  // one waits, and those chunks come back to serve them.
  core_->handle_alive = false;
  core_->MaybeFree();
}

absl::StatusOr<TxBuffer> TxPool::Allocate() { return core_->Allocate(); }
AcquireAwaiter TxPool::Acquire() { return AcquireAwaiter(core_); }
const TxPool::Stats& TxPool::stats() const { return core_->stats; }

bool TxPool::nic_registered() const {
  return uringx_bufpool_backing(core_->pool) == URINGX_MEM_NIC_TX;
}

std::string TxPool::Describe() const {
  uringx_bufpool* pool = core_->pool;
  std::string what = nic_registered()
      ? absl::StrCat("NIC-registered pool on ", core_->options.nic_ifname,
                     " (DMA-mapped once for TX)")
      : absl::StrCat("registered pool (",
                     uringx_bufpool_backing(pool) == URINGX_MEM_HUGETLB ? "hugetlb pages"
                                                                       : "normal pages",
                     ")");
  absl::StrAppend(&what, ", ", uringx_bufpool_nr_chunks(pool), " x ",
                  uringx_bufpool_chunk_size(pool), " B, fixed-buffer slot ",
                  core_->options.buf_index);
  if (!core_->nic_fallback_reason.empty()) absl::StrAppend(&what, "; ", core_->nic_fallback_reason);
  absl::StrAppend(&what, "; plain sends and RecvInto ",
                  fixed_plain() ? "on the slot (IORING_RECVSEND_FIXED_BUF)"
                  : nic_registered() ? "by address (a NIC TX slot is for zero-copy sends only)"
                  : !core_->options.fixed_plain ? "by address (Options::fixed_plain off)"
                  : "by address (the kernel refuses IORING_RECVSEND_FIXED_BUF on plain "
                    "SEND/RECV: Linux 7.x has it)");
  return what;
}
bool TxPool::fixed_plain() const { return uringx_bufpool_fixed_plain(core_->pool); }
uint32_t TxPool::free_chunks() const { return uringx_bufpool_nr_free(core_->pool); }
uint32_t TxPool::lent_chunks() const { return core_->lent; }
Ring& TxPool::ring() const { return *core_->ring; }
bool TxPool::copies_seen() const { return core_->copying_sockets > 0; }
bool TxPool::copies_seen(int fd) const {
  return fd >= 0 && static_cast<size_t>(fd) < core_->verdicts.size() &&
         core_->verdicts[static_cast<size_t>(fd)].copies;
}

bool AcquireAwaiter::await_ready() const noexcept {
  // FIFO: a free chunk goes to a queued waiter first.
  return !pool_->waiters_head && uringx_bufpool_nr_free(pool_->pool) > 0;
}

void AcquireAwaiter::Enqueue() {
  next_ = nullptr;
  prev_link_ = pool_->waiters_tail;
  *pool_->waiters_tail = this;
  pool_->waiters_tail = &next_;
  pool_->ChunkReturned();
}

absl::StatusOr<TxBuffer> AcquireAwaiter::await_resume() { return pool_->Allocate(); }

size_t AcquireAwaiter::Abandon(detail::Suspension* s, detail::PromiseBase*) {
  auto* w = static_cast<AcquireAwaiter*>(s);
  if (w->prev_link_) {
    *w->prev_link_ = w->next_;
    if (w->next_) w->next_->prev_link_ = w->prev_link_;
    else w->pool_->waiters_tail = w->prev_link_;
    w->prev_link_ = nullptr;
  }
  return 0;  // nothing of the kernel's writes into the frame
}

void detail::RecvIntoPrep::operator()(io_uring_sqe* sqe) const {
  if (uringx_bufpool_prep_recv(pool->pool, sqe, fd, addr, len, 0)) pool->stats.fixed_plain_ops++;
}

absl::StatusOr<size_t> detail::RecvIntoResult::operator()(int res, uint32_t flags) const {
  absl::StatusOr<size_t> got = detail::BytesResult{"recv"}(res, flags);
  if (got.ok()) buf->size_ = *got;
  return got;
}

RecvIntoAwaiter::RecvIntoAwaiter(int fd, TxBuffer& buf, OpOptions options) {
  if (!buf) return;
  detail::TxPoolCore* pool = buf.pool_;
  io_.emplace(*pool->ring, std::move(options),
              detail::RecvIntoPrep{pool, fd, buf.chunk_.addr, buf.chunk_.len},
              detail::RecvIntoResult{&buf});
}

absl::StatusOr<size_t> RecvIntoAwaiter::await_resume() {
  if (!io_) return absl::InvalidArgumentError("RecvInto: empty TxBuffer");
  return io_->await_resume();
}

bool SendZcAwaiter::await_ready() const noexcept {
  return !buf_ || options_.stop_requested() || buf_.pool_->ring->closing();
}

detail::SendSlot* SendZcAwaiter::Submit() {
  detail::TxPoolCore* pool = buf_.pool_;
  uint32_t index = static_cast<uint32_t>(
      (static_cast<std::byte*>(buf_.chunk_.addr) -
       static_cast<std::byte*>(uringx_bufpool_base(pool->pool))) /
      uringx_bufpool_chunk_size(pool->pool));
  detail::SendSlot* slot = pool->slots[index].get();
  Ring& ring = *pool->ring;
  slot->token = buf_.chunk_.token;
  slot->addr = buf_.chunk_.addr;
  slot->bytes = static_cast<uint32_t>(buf_.size_);
  slot->fd = fd_;
  slot->res = 0;
  slot->resend_plain = false;
  bool is_short = buf_.size_ < pool->options.zc_min_bytes;
  slot->zero_copy = pool->ZeroCopyFor(fd_, buf_.size_);

  // Lent until the kernel is done: the notification for zero copy, the
  // send's CQE for a plain send (the kernel copies when the send runs).
  uringx_bufpool_lend(pool->pool, slot->token);
  io_uring_sqe* sqe = ring.GetSqe();
  if (slot->zero_copy) {
    io_uring_prep_send_zc_fixed(sqe, fd_, uringx_bufpool_fixed_addr(pool->pool, buf_.chunk_.addr),
                                buf_.size_, MSG_WAITALL | MSG_NOSIGNAL,
                                IORING_SEND_ZC_REPORT_USAGE, buf_.chunk_.buf_index);
    pool->stats.zc_sends++;
  } else {
    pool->PrepPlainSend(sqe, fd_, buf_.chunk_.addr, static_cast<uint32_t>(buf_.size_));
    pool->stats.plain_sends++;
    if (is_short) pool->stats.short_sends++;
  }
  Ring::SetOp(sqe, slot);
  ring.AddInFlight();
  pool->lent++;
  if (options_.timeout) {
    slot->deadline_handle =
        ring.AddDeadline(*options_.timeout, &Operation::CancelOnDeadline, slot);
    if (!slot->deadline_handle) ring.LinkTimeout(sqe, options_, &slot->deadline);
  }
  if (options_.stop_possible()) slot->on_stop.emplace(*options_.stop, detail::CancelOnStop{slot});
  // The application's free of the chunk is deferred by the lend above.
  buf_.Reset();
  return slot;
}

absl::StatusOr<size_t> SendZcAwaiter::await_resume() {
  if (!slot_) {
    return buf_ ? ErrnoStatus("send_zc", ECANCELED)
                : absl::InvalidArgumentError("send_zc: empty TxBuffer");
  }
  slot_->on_stop.reset();
  if (slot_->res < 0) return ErrnoStatus(slot_->zero_copy ? "send_zc" : "send", slot_->res);
  return static_cast<size_t>(slot_->res);
}

}  // namespace zcnet
