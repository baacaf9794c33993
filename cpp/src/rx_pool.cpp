// RxPool, RecvStream, RxBuffer: multishot receive into registered memory.
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include <absl/strings/str_cat.h>

#include "zcnet/rx_buffer.hpp"

namespace zcnet {

void RxBuffer::Reset() {
  if (pool_) std::exchange(pool_, nullptr)->Release(token_);
}

absl::StatusOr<std::unique_ptr<RxPool>> RxPool::Create(Ring& ring, const Options& options) {
  uringx_rxsrc_params params{};
  params.mode = options.mode;
  params.zcrx.ifname = options.ifname;
  params.zcrx.queue = options.queue;
  params.zcrx.area_size = options.zcrx_area_bytes;
  params.zcrx.rq_entries = options.zcrx_refill_entries;
  params.pbuf.nr_bufs = options.buffers;
  params.pbuf.buf_size = options.buffer_size;
  params.pbuf.bgid = options.buffer_group;
  params.pbuf.flags = (options.incremental ? URINGX_PBUF_INC : 0) |
                      (options.bundles ? URINGX_PBUF_BUNDLE : 0);
  uringx_rxsrc* src = nullptr;
  uringx_reason reason = URINGX_REASON_NONE;
  int ret = uringx_rxsrc_create(ring.raw(), &params, &src, &reason);
  if (ret < 0) return ReasonStatus("RxPool::Create", ret, reason);
  auto pool = std::unique_ptr<RxPool>(new RxPool(ring, src));
  pool->scratch_.resize(uringx_rxsrc_max_views(src));
  return pool;
}

RxPool::~RxPool() {
  // A live RecvStream's state belongs to it, not to the kernel: waiting
  // for it below would never end.
  if (streams_) {
    std::fprintf(stderr,
                 "zcnet: RxPool destroyed before its %zu RecvStream(s); destroy the streams "
                 "first\n",
                 streams_);
    std::abort();
  }
  // Orphaned streams still armed decode against src_: let them finish.
  while (states_ && ring_->owning()) ring_->RunOnce();
  if (states_) {
    std::fprintf(stderr,
                 "zcnet: RxPool destroyed with %zu receive stream(s) still in flight on a "
                 "borrowed ring; hand their CQEs to Ring::Handle() first\n",
                 states_);
    std::abort();
  }
  uringx_rxsrc_destroy(src_);
}

std::string RxPool::Describe() const {
  if (reason() == URINGX_REASON_NONE) return mechanism();
  return absl::StrCat(mechanism(), " (zcrx not used: ", uringx_reason_str(reason()), ")");
}

uringx_zcrx_stats RxPool::zcrx_stats() const {
  uringx_zcrx_stats st{};
  if (uringx_zcrx* z = uringx_rxsrc_zcrx(src_)) uringx_zcrx_get_stats(z, &st);
  return st;
}

absl::StatusOr<RecvStream> RxPool::Stream(int fd) {
  uringx_pbufring* pbr = uringx_rxsrc_pbufring(src_);
  if (pbr && uringx_pbufring_incremental(pbr) && streams_ > 0)
    return absl::FailedPreconditionError(
        "RxPool::Stream: an incremental buffer ring feeds one stream at a time; create the "
        "pool with incremental=false to share it");
  streams_++;
  return RecvStream(new StreamState(*this, fd));
}

void RxPool::Release(uint64_t token) {
  uringx_rxsrc_release(src_, token);
  if (starved_) Rearm();
}

void RxPool::Rearm() {
  uringx_rxsrc_flush(src_);
  while (StreamState* s = starved_) {
    starved_ = s->next_starved;
    s->next_starved = nullptr;
    s->starved = false;
    s->Arm();
  }
}

void RxPool::StreamState::Arm() {
  io_uring_sqe* sqe = ring_->GetSqe();
  uringx_rxsrc_prep_recv(pool->src_, sqe, fd);
  Ring::SetOp(sqe, this);
  ring_->AddInFlight();
  armed = true;
  arms++;
}

void RxPool::StreamState::OnCqe(Operation* op, const io_uring_cqe* cqe) {
  auto* s = static_cast<StreamState*>(op);
  RxPool* pool = s->pool;
  uringx_rx_event ev{};
  s->cqes++;
  int ret = uringx_rxsrc_decode(pool->src_, cqe, pool->scratch_.data(),
                                static_cast<uint32_t>(pool->scratch_.size()), &ev);
  if (ret < 0) {
    ev = {};
    ev.armed = cqe->flags & IORING_CQE_F_MORE;
    ev.error = ret;
  }
  for (uint32_t i = 0; i < ev.nr_views; i++) s->queue.push_back(pool->scratch_[i]);
  if (!ev.armed) s->armed = false;

  if (s->orphaned) {
    s->DropQueued();
    s->MaybeDelete();
    return;
  }
  if (ev.rearm && !ev.out_of_buffers) {
    s->Arm();
  } else if (ev.out_of_buffers) {
    pool->out_of_buffers_++;
    uringx_rxsrc_flush(pool->src_);
    if (uringx_rxsrc_available(pool->src_)) {
      // Buffers came back before this CQE was seen: nobody will release more.
      s->Arm();
    } else {
      // Paused: re-armed when a buffer comes back (RxPool::Release).
      s->starved = true;
      s->next_starved = pool->starved_;
      pool->starved_ = s;
    }
  } else if (ev.eof) {
    s->eof = true;
  } else if (ev.error && !ev.armed) {
    s->error = ev.error;
  }
  if (s->HasWaiter() && s->Ready()) s->Wake();  // may destroy the waiter's frame: last
}

void RxPool::StreamState::DropQueued() {
  for (size_t i = head; i < queue.size(); i++) uringx_rxsrc_release(pool->src_, queue[i].token);
  queue.clear();
  head = 0;
  if (pool->starved_) pool->Rearm();
}

bool RxPool::StreamState::MaybeDelete() {
  if (armed || timer.armed() || poke.armed()) return false;
  delete this;
  return true;
}

void RxPool::StreamState::OnTimer(void* owner, int res) {
  auto* s = static_cast<StreamState*>(owner);
  if (s->orphaned) {
    s->MaybeDelete();
    return;
  }
  if (res == -ETIME && s->HasWaiter() && !s->Ready()) {
    s->timed_out = true;
    s->Wake();
  }
}

void RxPool::StreamState::OnPoke(void* owner, int) {
  auto* s = static_cast<StreamState*>(owner);
  if (s->orphaned) {
    s->MaybeDelete();
    return;
  }
  if (s->stopped && s->HasWaiter()) s->Wake();
}

RecvStream::~RecvStream() {
  if (!state_) return;
  RxPool::StreamState* s = std::exchange(state_, nullptr);
  RxPool* pool = s->pool;
  pool->streams_--;
  s->orphaned = true;
  if (s->starved) {
    RxPool::StreamState** link = &pool->starved_;
    while (*link && *link != s) link = &(*link)->next_starved;
    if (*link) *link = s->next_starved;
    s->starved = false;
  }
  s->DropQueued();
  if (s->armed) s->Cancel();
  s->timer.Disarm();
  s->MaybeDelete();
}

uint64_t RecvStream::cqes() const { return state_->cqes; }
uint64_t RecvStream::arms() const { return state_->arms; }

}  // namespace zcnet
