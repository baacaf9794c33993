// zcnet/detail/rx_pool_core.hpp - what an RxPool handle points at, and the
// state of one RecvStream. Included by rx_buffer.hpp; not a public header on
// its own.
#pragma once

#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "zcnet/status.hpp"

namespace zcnet {
namespace detail {

// Freed once the handle is gone, no stream state is left, every view is
// released and no wake-up is armed (MaybeFree).
struct RxPoolCore {
  RxPoolCore(Ring& ring, uringx_rxsrc* src, uint32_t stream_quota);
  ~RxPoolCore();

  void Release(uint64_t token);
  // Queues a stream that ran dry or is paused over its quota; RearmStarved()
  // re-arms it once buffers come back (and, if paused, once it is not).
  void AddStarved(RxStreamState* s);
  void RemoveStarved(RxStreamState* s);
  static void RearmStarved(void* owner, int res);
  void MaybeFree();
  bool incremental_ring() const;

  Ring* ring;
  uringx_rxsrc* src;
  std::vector<uringx_rx_view> scratch;
  RxStreamState* starved_head = nullptr;  // FIFO of streams waiting for buffers
  RxStreamState** starved_tail = &starved_head;
  // Re-arms starved streams from its own CQE once buffers come back: once
  // per pass, however many single releases there were.
  Wakeup rearm;
  // Incremental ring: the one stream whose receive is armed, and a stream
  // made after it that waits for that receive's final CQE.
  RxStreamState* inc_armed = nullptr;
  RxStreamState* inc_waiting = nullptr;
  // A stream holding `quota` views (queued or handed out) stops receiving
  // until it holds no more than `resume_at`; 0: no quota.
  uint32_t quota = 0;
  uint32_t resume_at = 0;
  // Buffer size of a buffer ring: a receive is armed with a byte limit
  // (multishot IORING_OP_RECV's sqe->optlen) of what the stream may still
  // take, at most kArmBuffers buffers' worth; 0 for zcrx, where only the
  // cancel at the quota bounds it.
  uint32_t quota_buf_bytes = 0;
  // Bytes per buffer of each size class (0: no such class); with two, every
  // receive gets the byte limit, quota or not, so that it ends and the
  // stream can pick its class again.
  uint32_t class_bytes[2] = {0, 0};
  bool two_classes() const { return class_bytes[URINGX_RX_CLASS_SMALL] != 0; }
  // A receive on the large class whose last kClassWindow CQEs averaged no
  // more than half a small buffer is cancelled and re-armed on the small one.
  static constexpr uint32_t kClassWindow = 32;
  // Why a cap: with a limit, a bundle receive maps as many ring buffers as
  // the limit could fill (up to 256) before each receive into an empty
  // socket, even for a 100-byte request, where an unlimited one maps one.
  // A stream starts at kArmBuffers; one whose receives run out of their
  // limit with CQEs of more than a buffer each (bulk: its socket is rarely
  // empty, so the mapping is paid rarely) gets four times as much per arm,
  // up to kMaxArmBuffers, and is re-armed less often; any other end of a
  // receive brings it back to kArmBuffers.
  static constexpr uint32_t kArmBuffers = 16;
  static constexpr uint32_t kMaxArmBuffers = 256;
  uint64_t quota_pauses = 0;
  size_t streams = 0;  // live RecvStreams
  size_t states = 0;   // stream states, orphaned ones included
  uint64_t out_of_buffers = 0;
  uint32_t dispatching = 0;
  bool handle_alive = true;
  // Forwarding (Options::forward_ifname): the fixed-buffer slot the area is
  // bound in for transmission, or -1 and why not.
  int forward_slot = -1;
  std::string forward_unavailable;
  RxPool::ForwardStats forward_stats;
};

// One SendZc(fd, RxBuffer): owns the buffer until the kernel is done with
// it (the notification for a zero-copy send, the CQE for a plain one), so
// it lives on the heap and frees itself then. Its address is the SQE's
// user_data for both CQEs.
struct ForwardOp : Operation {
  ForwardOp(Ring& ring, RxPoolCore* p, RxBuffer b)
      : Operation(ring, &ForwardOp::OnCqe), pool(p), buf(std::move(b)) {}
  static void OnCqe(Operation* op, const io_uring_cqe* cqe);
  template <typename Promise>
  void Wait(std::coroutine_handle<Promise> h) {
    SetWaiter(h);
  }
  RxPoolCore* pool;
  RxBuffer buf;
  int res = 0;
  bool zero_copy = false;
  bool notification_due = false;
  __kernel_timespec deadline{};
  uint64_t deadline_handle = 0;  // on the owning ring's deadline queue
  std::optional<std::stop_callback<CancelOnStop>> on_stop;
};

struct RxStreamState : MultishotStream<RxStreamState> {
  RxStreamState(RxPoolCore& p, int dup_fd);
  ~RxStreamState();

  static void OnCqe(Operation* op, const io_uring_cqe* cqe);
  void Arm();
  bool CanArm() const { return !starved; }
  bool Holding() const { return held > 0; }
  // The quota binds only while the pool is shared: a lone stream may hold
  // every buffer.
  bool OverQuota() const { return pool->quota && pool->streams > 1 && held >= pool->quota; }
  bool StillPaused() const { return paused && pool->streams > 1 && held > pool->resume_at; }
  // Re-arms an ended receive, or queues it with the starved streams while
  // it is paused over its quota.
  void RearmUnlessPaused();
  // A buffer its next receive can take is free (the small class may take
  // the large one's, not the other way).
  bool CanFill() const;
  // An RxBuffer of this stream is given back.
  void ReleaseView(uint64_t token);
  void DropQueued();
  bool Ready() const { return head < queue.size() || eof || error; }
  absl::StatusOr<RxBuffer> Take(WaitEnd end);

  RxPoolCore* pool;
  std::vector<uringx_rx_view> queue;  // received, not yet handed out
  size_t head = 0;
  bool starved = false;  // ended on ENOBUFS, waiting for buffers
  uint32_t held = 0;     // views queued or handed out, not yet released
  bool paused = false;   // over its quota: not re-armed until it holds resume_at
  bool quota_cancel = false;  // the receive was cancelled for the quota
  bool class_cancel = false;  // ... to move to the small class
  // The class the next receive is armed on, and the armed one's.
  uringx_rx_class cls = URINGX_RX_CLASS_LARGE;
  uringx_rx_class armed_cls = URINGX_RX_CLASS_LARGE;
  uint64_t class_moves = 0;
  // Bytes and CQEs of the large-class receive's current window.
  uint64_t window_bytes = 0;
  uint32_t window_cqes = 0;
  void MoveTo(uringx_rx_class c) {
    if (c != cls) class_moves++;
    cls = c;
  }
  // The armed receive's byte limit in buffers, and what it has brought.
  uint32_t arm_bufs = RxPoolCore::kArmBuffers;
  uint64_t arm_bytes = 0;
  uint64_t arm_cqes = 0;
  // Sets the class and arm_bufs for the next receive from how the last one
  // ended.
  void AdaptArm(bool ended_by_limit);
  // A receive on the large class bringing small CQEs: true when its last
  // window says it should be cancelled and re-armed on the small class.
  bool WantsSmallClass();
  bool eof = false;
  int error = 0;
  RxStreamState* next_starved = nullptr;
  uint64_t cqes = 0;
  uint64_t arms = 0;
};

}  // namespace detail

template <typename Promise>
bool ForwardAwaiter::await_suspend(std::coroutine_handle<Promise> h) {
  op_ = Submit();
  op_->Wait(h);
  return true;
}

// Inline: the application's one call per buffer goes straight to its stream.
inline void RxBuffer::Reset() {
  if (stream_) std::exchange(stream_, nullptr)->ReleaseView(token_);
}

inline detail::StreamNextAwaiter<detail::RxStreamState> RecvStream::Next(OpOptions options) {
  return detail::StreamNextAwaiter<detail::RxStreamState>(state_, options);
}

}  // namespace zcnet
