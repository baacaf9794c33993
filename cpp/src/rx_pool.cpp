// RxPool, RecvStream, RxBuffer: multishot receive into registered memory.
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include <algorithm>
#include <bit>

#include <absl/strings/str_cat.h>
#include <uringx/pbufring.h>

#include "zcnet/rx_buffer.hpp"

namespace zcnet {

namespace detail {

RxPoolCore::RxPoolCore(Ring& r, uringx_rxsrc* s, uint32_t stream_quota)
    : ring(&r), src(s), rearm(r, this, &RxPoolCore::RearmStarved) {
  scratch.resize(uringx_rxsrc_max_views(s));
  ring->AttachResource();
  // The quota counts buffers of either class, at half the large class's.
  if (stream_quota == RxPool::Options::kDefaultQuota)
    stream_quota = std::max<uint32_t>(1, uringx_rxsrc_class_nr_bufs(s, URINGX_RX_CLASS_LARGE) / 2);
  if (uringx_rxsrc_pbufring(s)) {
    class_bytes[URINGX_RX_CLASS_LARGE] = uringx_rxsrc_class_buf_size(s, URINGX_RX_CLASS_LARGE);
    class_bytes[URINGX_RX_CLASS_SMALL] = uringx_rxsrc_class_buf_size(s, URINGX_RX_CLASS_SMALL);
  }
  // An incremental ring feeds one stream: nobody to share it with.
  if (stream_quota != RxPool::Options::kNoQuota && !incremental_ring()) {
    quota = stream_quota;
    resume_at = stream_quota / 2;
    if (uringx_pbufring* pbr = uringx_rxsrc_pbufring(s)) quota_buf_bytes = uringx_pbufring_buf_size(pbr);
  }
}

RxPoolCore::~RxPoolCore() {
  uringx_rxsrc_destroy(src);  // clears the forwarding slot, if bound
  if (forward_slot >= 0) ring->ReleaseBufferSlot(static_cast<uint16_t>(forward_slot));
  ring->DetachResource();
}

bool RxPoolCore::incremental_ring() const {
  uringx_pbufring* pbr = uringx_rxsrc_pbufring(src);
  return pbr && uringx_pbufring_incremental(pbr);
}

void RxPoolCore::MaybeFree() {
  if (!handle_alive && !states && !dispatching && !rearm.armed() &&
      !uringx_rxsrc_outstanding(src))
    delete this;
}

void RxPoolCore::Release(uint64_t token) {
  uringx_rxsrc_release(src, token);
  if (starved_head) rearm.ArmNow();
  MaybeFree();
}

void RxPoolCore::AddStarved(RxStreamState* s) {
  s->starved = true;
  s->next_starved = nullptr;
  *starved_tail = s;
  starved_tail = &s->next_starved;
}

void RxPoolCore::RemoveStarved(RxStreamState* s) {
  if (!s->starved) return;
  RxStreamState** link = &starved_head;
  while (*link && *link != s) link = &(*link)->next_starved;
  if (*link) *link = s->next_starved;
  if (starved_tail == &s->next_starved) starved_tail = link;
  s->next_starved = nullptr;
  s->starved = false;
}

void RxPoolCore::RearmStarved(void* owner, int) {
  auto* core = static_cast<RxPoolCore*>(owner);
  uringx_rxsrc_flush(core->src);
  // No more re-arms than buffers to fill: the rest wait for later returns.
  // A stream of the small class can take a buffer of either class.
  uint32_t free_large = uringx_rxsrc_class_available(core->src, URINGX_RX_CLASS_LARGE);
  uint32_t free_small = uringx_rxsrc_class_available(core->src, URINGX_RX_CLASS_SMALL);
  RxStreamState** link = &core->starved_head;
  while (*link && (free_large || free_small)) {
    RxStreamState* s = *link;
    uint32_t* take = s->cls == URINGX_RX_CLASS_SMALL && free_small ? &free_small
                     : free_large                                  ? &free_large
                                                                   : nullptr;
    // Over its quota, or no buffer of its class: stays queued, in its place.
    if (s->StillPaused() || !take) {
      link = &s->next_starved;
      continue;
    }
    (*take)--;
    *link = s->next_starved;
    if (core->starved_tail == &s->next_starved) core->starved_tail = link;
    s->next_starved = nullptr;
    s->starved = false;
    s->Arm();
  }
  core->MaybeFree();
}

RxStreamState::RxStreamState(RxPoolCore& p, int dup_fd)
    : MultishotStream(*p.ring, dup_fd, &RxStreamState::OnCqe), pool(&p) {
  p.states++;
}

RxStreamState::~RxStreamState() {
  RxPoolCore* p = pool;
  p->RemoveStarved(this);
  if (p->inc_waiting == this) p->inc_waiting = nullptr;
  p->states--;
  p->MaybeFree();
}

void RxStreamState::Arm() {
  paused = false;
  if (ring_->closing()) {
    error = -ECANCELED;
    return;
  }
  if (pool->incremental_ring()) {
    // Two receives consuming one incremental ring would interleave inside
    // its buffers: the next stream waits for the previous one's final CQE.
    if (pool->inc_armed && pool->inc_armed != this) {
      pool->inc_waiting = this;
      return;
    }
    pool->inc_armed = this;
  }
  // The small class out of buffers: the large one takes the receive (the
  // stream moves back by the usual rule). Never the other way: a bulk stream
  // in small buffers costs more CQEs per byte than its wait for large ones
  // (measured: bench/results/size-classes/).
  if (pool->two_classes() && cls == URINGX_RX_CLASS_SMALL &&
      !uringx_rxsrc_class_available(pool->src, URINGX_RX_CLASS_SMALL) &&
      uringx_rxsrc_class_available(pool->src, URINGX_RX_CLASS_LARGE))
    MoveTo(URINGX_RX_CLASS_LARGE);
  armed_cls = cls;
  window_bytes = window_cqes = 0;
  io_uring_sqe* sqe = ring_->GetSqe();
  uringx_rxsrc_prep_recv_class(pool->src, sqe, fd_, armed_cls);
  // The kernel ends the receive once it has taken what the quota leaves, or
  // arm_bufs buffers' worth (filled buffers; small receives are bounded by
  // the cancel at the quota or for the class instead). Kernels before the
  // limit ignore it.
  arm_bytes = arm_cqes = 0;
  uint32_t limit_bufs = 0;
  if (pool->quota_buf_bytes && held < pool->quota)
    limit_bufs = std::min(pool->quota - held, arm_bufs);
  else if (pool->two_classes())
    limit_bufs = arm_bufs;
  if (limit_bufs)
    sqe->optlen = static_cast<uint32_t>(
        std::min<uint64_t>(uint64_t{limit_bufs} * pool->class_bytes[armed_cls], UINT32_MAX));
  Ring::SetOp(sqe, this);
  ring_->AddInFlight();
  armed_ = true;
  arms++;
}

void RxStreamState::OnCqe(Operation* op, const io_uring_cqe* cqe) {
  auto* s = static_cast<RxStreamState*>(op);
  RxPoolCore* pool = s->pool;
  uringx_rx_event ev{};
  s->cqes++;
  int ret = uringx_rxsrc_decode_class(pool->src, s->armed_cls, cqe, pool->scratch.data(),
                                      static_cast<uint32_t>(pool->scratch.size()), &ev);
  bool more = cqe->flags & IORING_CQE_F_MORE;
  if (ret < 0) {
    // The kernel filled buffers this pool cannot account for: the stream's
    // data is no longer whole. Fail it and stop the receive.
    ev = {};
    ev.armed = more;
    s->error = -EPROTO;
    if (more) s->Cancel();
  }
  // After a decode error the stream has a hole: what comes later is
  // returned, never delivered.
  if (ev.nr_views) {
    s->arm_cqes++;
    s->window_cqes++;
    s->window_bytes += ev.bytes;
  }
  for (uint32_t i = 0; i < ev.nr_views; i++) {
    s->arm_bytes += pool->scratch[i].len;
    if (s->error == -EPROTO) {
      uringx_rxsrc_release(pool->src, pool->scratch[i].token);
    } else {
      s->queue.push_back(pool->scratch[i]);
      s->held++;
    }
  }
  // Over its quota: stop the receive (what is in flight still arrives and is
  // queued); the consumer's releases re-arm it.
  if (s->OverQuota() && !s->paused && !s->orphaned() && !s->error) {
    s->paused = true;
    pool->quota_pauses++;
    if (more) {
      s->quota_cancel = true;
      s->Cancel();
    }
  }
  // Small receives on the large class: re-arm on the small one.
  // (WantsSmallClass() ends the window it judges: asked last.)
  if (more && !s->quota_cancel && !s->class_cancel && !s->orphaned() && !s->error &&
      s->WantsSmallClass()) {
    s->class_cancel = true;
    s->MoveTo(URINGX_RX_CLASS_SMALL);
    s->Cancel();
  }
  bool our_cancel = false;
  if (!ev.armed)
    our_cancel = std::exchange(s->quota_cancel, false) | std::exchange(s->class_cancel, false);
  if (our_cancel && ev.error == -ECANCELED) {
    ev.error = 0;
    ev.rearm = true;  // ended by our cancel: the stream is healthy
  }
  if (!ev.armed) {
    s->armed_ = false;
    if (pool->inc_armed == s) {
      pool->inc_armed = nullptr;
      if (RxStreamState* next = std::exchange(pool->inc_waiting, nullptr)) next->Arm();
    }
  }

  if (s->ReapIfOrphaned()) return;
  if (s->error) {
    // Failed: no re-arm; the receive's last CQEs only return their buffers.
  } else if (ev.rearm && !ev.out_of_buffers) {
    s->AdaptArm(!ev.armed && !ev.error && !our_cancel);
    s->RearmUnlessPaused();
  } else if (ev.out_of_buffers) {
    pool->out_of_buffers++;
    uringx_rxsrc_flush(pool->src);
    if (s->StillPaused()) {
      pool->AddStarved(s);  // re-armed once its consumer gives buffers back
    } else if (s->CanFill()) {
      // Buffers came back before this CQE was seen: nobody will release more.
      s->Arm();
    } else {
      pool->AddStarved(s);  // re-armed when buffers come back
    }
  } else if (ev.eof) {
    s->eof = true;
  } else if (ev.error && !ev.armed) {
    s->error = ev.error;
  }
  pool->dispatching++;
  s->WakeIfReady();  // may destroy the stream (then the state is orphaned)
  pool->dispatching--;
  pool->MaybeFree();
}

void RxStreamState::AdaptArm(bool ended_by_limit) {
  uint32_t buf = pool->class_bytes[armed_cls];
  if (pool->two_classes() && armed_cls == URINGX_RX_CLASS_SMALL) {
    // Receives that fill small buffers whole: a bulk stream, which the
    // large class serves with fewer buffers and CQEs per byte.
    if (ended_by_limit && arm_cqes && arm_bytes / arm_cqes >= buf) MoveTo(URINGX_RX_CLASS_LARGE);
    arm_bufs = RxPoolCore::kArmBuffers;
    return;
  }
  if (WantsSmallClass()) {
    MoveTo(URINGX_RX_CLASS_SMALL);
    arm_bufs = RxPoolCore::kArmBuffers;
    return;
  }
  if (!pool->quota_buf_bytes && !pool->two_classes()) return;  // no limit to adapt
  // Ended on its own with the limit used up, CQEs averaging over a buffer.
  bool bulk = ended_by_limit && buf && arm_cqes &&
              arm_bytes >= uint64_t{arm_bufs} * buf && arm_bytes / arm_cqes > buf;
  arm_bufs = bulk ? std::min(arm_bufs * 4, RxPoolCore::kMaxArmBuffers) : RxPoolCore::kArmBuffers;
}

bool RxStreamState::WantsSmallClass() {
  if (!pool->two_classes() || armed_cls != URINGX_RX_CLASS_LARGE ||
      window_cqes < RxPoolCore::kClassWindow)
    return false;
  uint64_t bytes = std::exchange(window_bytes, 0);
  uint32_t cqes = std::exchange(window_cqes, 0);
  return bytes <= uint64_t{cqes} * (pool->class_bytes[URINGX_RX_CLASS_SMALL] / 2) &&
         uringx_rxsrc_class_available(pool->src, URINGX_RX_CLASS_SMALL);
}

bool RxStreamState::CanFill() const {
  if (uringx_rxsrc_class_available(pool->src, URINGX_RX_CLASS_LARGE)) return true;
  return cls == URINGX_RX_CLASS_SMALL &&
         uringx_rxsrc_class_available(pool->src, URINGX_RX_CLASS_SMALL);
}

void RxStreamState::RearmUnlessPaused() {
  if (StillPaused()) pool->AddStarved(this);
  else Arm();
}

void RxStreamState::ReleaseView(uint64_t token) {
  RxPoolCore* p = pool;
  held--;
  if (paused && !StillPaused()) paused = false;  // its place among the starved re-arms it
  p->Release(token);
  if (orphaned() && !held) MaybeDelete();  // the last view pointed at the state
}

void RxStreamState::DropQueued() {
  for (size_t i = head; i < queue.size(); i++) uringx_rxsrc_release(pool->src, queue[i].token);
  held -= static_cast<uint32_t>(queue.size() - head);
  if (head < queue.size() && pool->starved_head) pool->rearm.ArmNow();
  queue.clear();
  head = 0;
}

absl::StatusOr<RxBuffer> RxStreamState::Take(WaitEnd end) {
  if (end == WaitEnd::kStopped) return ErrnoStatus("recv stream", ECANCELED);
  if (end == WaitEnd::kTimedOut) return ErrnoStatus("recv stream", ETIME);
  if (head < queue.size()) {
    RxBuffer b(this, queue[head++]);
    if (head == queue.size()) {
      queue.clear();
      head = 0;
    }
    return b;
  }
  if (error == -EPROTO)
    return absl::DataLossError("recv: a receive completion did not match the pool's buffers");
  if (error) return ErrnoStatus("recv", error);
  return RxBuffer();  // end of stream
}

}  // namespace detail

namespace {

// Binds the pool's zcrx area for @ifname's transmit DMA in a slot of the
// ring's buffer table; returns why not, or an empty string.
std::string BindForForwarding(detail::RxPoolCore& core, const char* ifname) {
  std::string what = absl::StrCat("forwarding to ", ifname, " copies: ");
  uringx_zcrx* z = uringx_rxsrc_zcrx(core.src);
  if (!z) return absl::StrCat(what, "the pool is not zcrx");
  if (uringx_zcrx_nodev(z)) return absl::StrCat(what, "a NODEV (copy mode) area has no device");
  int slot = core.ring->ClaimFreeBufferSlot();
  if (slot < 0)
    return absl::StrCat(what, "no free fixed-buffer slot on the ring (all ", Ring::kBufferSlots,
                        " held, or the application registered its own table)");
  uringx_reason reason = URINGX_REASON_NONE;
  int ret = uringx_zcrx_bind_tx(z, ifname, static_cast<uint16_t>(slot), &reason);
  if (ret < 0) {
    core.ring->ReleaseBufferSlot(static_cast<uint16_t>(slot));
    return absl::StrCat(what, uringx_reason_str(reason), " (", uringx_strerror(ret), ")");
  }
  core.forward_slot = slot;
  return {};
}

// Buffers of the small size class (0: none), or what is wrong with Options.
absl::StatusOr<uint32_t> SmallClassBuffers(const RxPool::Options& o) {
  if (o.small_buffers == RxPool::Options::kNoSmall || o.small_buffer_size == 0 ||
      o.mode == URINGX_RXSRC_ZCRX || o.incremental)
    return 0;
  if (o.small_buffers == RxPool::Options::kAutoSmall) {
    if (o.buffer_size / 4 < o.small_buffer_size) return 0;
    uint64_t n = (uint64_t{o.buffers} * o.buffer_size / 8) / o.small_buffer_size;
    if (n == 0) return 0;
    n = std::min<uint64_t>(n, 32768);
    return static_cast<uint32_t>(std::bit_floor(n));
  }
  uint32_t n = o.small_buffers;
  if (n > 32768 || (n & (n - 1)))
    return absl::InvalidArgumentError(absl::StrCat("RxPool::Create: Options::small_buffers = ", n,
                                                   ": wants a power of two, 1..32768"));
  if (o.small_buffer_size >= o.buffer_size)
    return absl::InvalidArgumentError(
        absl::StrCat("RxPool::Create: Options::small_buffer_size = ", o.small_buffer_size,
                     ": wants fewer bytes than buffer_size (", o.buffer_size, ")"));
  return n;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RxPool>> RxPool::Create(Ring& ring, const Options& options) {
  // The buffer ring's limits, named here rather than as a bare EINVAL.
  if (options.mode != URINGX_RXSRC_ZCRX) {
    uint32_t n = options.buffers;
    if (n == 0 || n > 32768 || (n & (n - 1)))
      return absl::InvalidArgumentError(absl::StrCat(
          "RxPool::Create: Options::buffers = ", n, ": wants a power of two, 1..32768"));
    if (options.buffer_size == 0 || options.buffer_size > (1u << 24))
      return absl::InvalidArgumentError(absl::StrCat("RxPool::Create: Options::buffer_size = ",
                                                     options.buffer_size,
                                                     ": wants 1..16777216 bytes"));
  }
  uringx_rxsrc_params params{};
  params.mode = options.mode;
  params.zcrx.ifname = options.ifname;
  params.zcrx.queue = options.queue;
  params.zcrx.area_size = options.zcrx_area_bytes;
  params.zcrx.rq_entries = options.zcrx_refill_entries;
  params.zcrx.rx_buf_len = options.zcrx_buffer_size;
  // Forwarding needs an area a NIC can map for transmission: a dma-buf.
  if (options.forward_ifname) params.zcrx.mem = URINGX_ZCRX_MEM_UDMABUF;
  params.pbuf.nr_bufs = options.buffers;
  params.pbuf.buf_size = options.buffer_size;
  params.pbuf.bgid = options.buffer_group;
  params.pbuf.flags = (options.incremental ? URINGX_PBUF_INC : 0) |
                      (options.bundles ? URINGX_PBUF_BUNDLE : 0);
  absl::StatusOr<uint32_t> small = SmallClassBuffers(options);
  if (!small.ok()) return small.status();
  if (*small) {
    params.pbuf_small = params.pbuf;
    params.pbuf_small.nr_bufs = *small;
    params.pbuf_small.buf_size = options.small_buffer_size;
    params.pbuf_small.bgid = options.buffer_group ^ 0x8000;
  }
  uringx_rxsrc* src = nullptr;
  uringx_reason reason = URINGX_REASON_NONE;
  int ret = uringx_rxsrc_create(ring.raw(), &params, &src, &reason);
  if (ret == -EEXIST && options.mode != URINGX_RXSRC_ZCRX)
    return absl::AlreadyExistsError(absl::StrCat(
        "RxPool::Create: buffer group ", options.buffer_group,
        *small ? absl::StrCat(" (or ", params.pbuf_small.bgid, ", its small class)") : "",
        " is in use on this ring: give each pool on a ring its own Options::buffer_group"));
  if (ret < 0) return ReasonStatus("RxPool::Create", ret, reason);
  auto* core = new detail::RxPoolCore(ring, src, options.stream_quota);
  if (options.forward_ifname) core->forward_unavailable = BindForForwarding(*core, options.forward_ifname);
  return std::unique_ptr<RxPool>(new RxPool(core));
}

absl::StatusOr<ZcrxShare> RxPool::ShareZcrx() {
  uringx_zcrx* z = uringx_rxsrc_zcrx(core_->src);
  if (!z)
    return absl::FailedPreconditionError(absl::StrCat(
        "RxPool::ShareZcrx: the pool is ", mechanism(), ", not zcrx: nothing to share"));
  ZcrxShare share;
  uringx_reason reason = URINGX_REASON_NONE;
  int ret = uringx_zcrx_export(z, &share.share_, &reason);
  if (ret < 0) return ReasonStatus("RxPool::ShareZcrx: ZCRX_CTRL_EXPORT", ret, reason);
  return share;
}

absl::StatusOr<std::unique_ptr<RxPool>> RxPool::Import(Ring& ring, ZcrxShare share,
                                                       uint32_t stream_quota) {
  if (!share.valid())
    return absl::InvalidArgumentError("RxPool::Import: empty ZcrxShare (already imported?)");
  uringx_rxsrc* src = nullptr;
  uringx_reason reason = URINGX_REASON_NONE;
  int ret = uringx_rxsrc_import(ring.raw(), &share.share_, &src, &reason);
  if (ret < 0) return ReasonStatus("RxPool::Import: ZCRX_REG_IMPORT", ret, reason);
  return std::unique_ptr<RxPool>(new RxPool(new detail::RxPoolCore(ring, src, stream_quota)));
}

bool RxPool::shared() const {
  uringx_zcrx* z = uringx_rxsrc_zcrx(core_->src);
  return z && uringx_zcrx_shared(z);
}

RxPool::~RxPool() {
  core_->handle_alive = false;
  core_->MaybeFree();
}

const char* RxPool::mechanism() const { return uringx_rxsrc_kind_name(core_->src); }
uringx_reason RxPool::reason() const { return uringx_rxsrc_reason(core_->src); }
uint32_t RxPool::outstanding() const { return uringx_rxsrc_outstanding(core_->src); }
uint64_t RxPool::out_of_buffers() const { return core_->out_of_buffers; }
uint64_t RxPool::quota_pauses() const { return core_->quota_pauses; }
uint32_t RxPool::stream_quota() const { return core_->quota; }
Ring& RxPool::ring() const { return *core_->ring; }

bool RxPool::incremental() const { return core_->incremental_ring(); }
uint32_t RxPool::small_buffer_size() const { return core_->class_bytes[URINGX_RX_CLASS_SMALL]; }
bool RxPool::bundles() const {
  uringx_pbufring* pbr = uringx_rxsrc_pbufring(core_->src);
  return pbr && uringx_pbufring_bundles(pbr);
}

std::string RxPool::Describe() const {
  std::string out = mechanism();
  if (uringx_zcrx* z = uringx_rxsrc_zcrx(core_->src))
    absl::StrAppend(&out, " (", uringx_zcrx_rx_buf_len(z), "-byte buffers)");
  if (shared()) out += " (ifq shared with another ring)";
  if (core_->forward_slot >= 0)
    absl::StrAppend(&out, " (forwarded from the same memory: the area is DMA-mapped for TX too, "
                          "fixed-buffer slot ", core_->forward_slot, ")");
  else if (!core_->forward_unavailable.empty())
    absl::StrAppend(&out, " (", core_->forward_unavailable, ")");
  if (reason() != URINGX_REASON_NONE)
    absl::StrAppend(&out, " (zcrx not used: ", uringx_reason_str(reason()), ")");
  if (core_->two_classes())
    absl::StrAppend(
        &out, " (size classes: ", uringx_rxsrc_class_nr_bufs(core_->src, URINGX_RX_CLASS_SMALL),
        " x ", core_->class_bytes[URINGX_RX_CLASS_SMALL], " and ",
        uringx_rxsrc_class_nr_bufs(core_->src, URINGX_RX_CLASS_LARGE), " x ",
        core_->class_bytes[URINGX_RX_CLASS_LARGE], " bytes)");
  uringx_pbufring* pbr = uringx_rxsrc_pbufring(core_->src);
  if (pbr && uringx_pbufring_downgrade(pbr) != URINGX_REASON_NONE)
    absl::StrAppend(&out, " (buffer ring mode asked for is off: ",
                    uringx_reason_str(uringx_pbufring_downgrade(pbr)), ")");
  return out;
}

bool RxPool::forwards_zero_copy() const { return core_->forward_slot >= 0; }
const RxPool::ForwardStats& RxPool::forward_stats() const { return core_->forward_stats; }

uringx_zcrx_stats RxPool::zcrx_stats() const {
  uringx_zcrx_stats st{};
  if (uringx_zcrx* z = uringx_rxsrc_zcrx(core_->src)) uringx_zcrx_get_stats(z, &st);
  return st;
}

absl::StatusOr<RecvStream> RxPool::Stream(int fd) {
  if (core_->incremental_ring() && core_->streams > 0)
    return absl::FailedPreconditionError(
        "RxPool::Stream: an incremental buffer ring feeds one stream at a time; create the "
        "pool with incremental=false to share it");
  int dup_fd = detail::DupForStream(fd);
  if (dup_fd < 0) return ErrnoStatus(absl::StrCat("RxPool::Stream(fd ", fd, ")"), dup_fd);
  core_->streams++;
  return RecvStream(new detail::RxStreamState(*core_, dup_fd));
}

RecvStream::~RecvStream() {
  if (!state_) return;
  detail::RxStreamState* s = std::exchange(state_, nullptr);
  detail::RxPoolCore* p = s->pool;
  p->streams--;
  p->RemoveStarved(s);
  // A lone stream is not bound by the quota: wake one paused for it. (With
  // another stream left, the core outlives Orphan().)
  bool wake_lone = p->streams == 1 && p->starved_head;
  s->Orphan();
  if (wake_lone) p->rearm.ArmNow();
}

std::optional<RxBuffer> RecvStream::TryNext() {
  if (state_->head >= state_->queue.size()) return std::nullopt;
  return *state_->Take(detail::WaitEnd::kReady);  // a queued view: never an error
}

uint32_t RecvStream::held() const { return state_->held; }
uint64_t RecvStream::cqes() const { return state_->cqes; }
uint64_t RecvStream::arms() const { return state_->arms; }
uint32_t RecvStream::buffer_size() const { return state_->pool->class_bytes[state_->cls]; }
uint64_t RecvStream::class_moves() const { return state_->class_moves; }

}  // namespace zcnet
