// zcnet/rx_buffer.hpp - receive into registered memory: RxPool, RecvStream,
// RxBuffer.
//
// An RxPool is one receive-buffer source (liburing-ext's uringx_rxsrc): a
// zcrx area bound to a NIC rx queue when that queue supports it, else a
// provided-buffer ring; the choice and the reason for it are kept. A
// RecvStream is one multishot receive on one socket drawing from the pool;
// each co_await Next() yields an RxBuffer: a move-only view of received bytes
// that returns its memory to the pool when destroyed, and may be held across
// any number of co_awaits. When the pool runs out the receive pauses and
// re-arms as buffers come back: backpressure, never loss. Streams that ran
// dry are re-armed first-paused first, never more of them per pass than
// there are buffers to fill.
//
// Lifetime: the RxPool object is a handle. The pool's memory and buffer ring
// live on after it is destroyed until its last RecvStream and RxBuffer are
// gone (and the kernel's last CQE for them is in), so pools, streams,
// buffers and sockets may be destroyed in any order; only the Ring must
// outlive them all.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include <absl/status/statusor.h>
#include <absl/types/span.h>
#include <uringx/rxsrc.h>

#include "zcnet/detail/multishot_stream.hpp"
#include "zcnet/ring.hpp"

namespace zcnet {

class RxPool;
class RecvStream;
namespace detail {
struct RxPoolCore;
struct RxStreamState;
struct ForwardOp;
}
class ForwardAwaiter;

// A view of received bytes in registered memory; gives the memory back when
// destroyed. Empty (size 0) marks the end of the stream.
class RxBuffer {
 public:
  RxBuffer() = default;
  RxBuffer(RxBuffer&& o) noexcept
      : stream_(std::exchange(o.stream_, nullptr)),
        data_(o.data_),
        size_(o.size_),
        token_(o.token_) {}
  RxBuffer& operator=(RxBuffer&& o) noexcept {
    if (this != &o) {
      Reset();
      stream_ = std::exchange(o.stream_, nullptr);
      data_ = o.data_;
      size_ = o.size_;
      token_ = o.token_;
    }
    return *this;
  }
  RxBuffer(const RxBuffer&) = delete;
  RxBuffer& operator=(const RxBuffer&) = delete;
  ~RxBuffer() { Reset(); }

  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  absl::Span<const std::byte> span() const { return {data_, size_}; }
  // Returns the memory now (the destructor does the same).
  void Reset();

 private:
  friend struct detail::RxStreamState;
  friend class ForwardAwaiter;
  RxBuffer(detail::RxStreamState* stream, const uringx_rx_view& v)
      : stream_(stream), data_(static_cast<const std::byte*>(v.data)), size_(v.len), token_(v.token) {}

  detail::RxStreamState* stream_ = nullptr;  // counts what it holds
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
  uint64_t token_ = 0;
};

// A pool's zcrx ifq on its way to another ring of this process (from
// RxPool::ShareZcrx to RxPool::Import): the exported ifq's descriptor and a
// reference on the area. Move-only; dropped unused, it closes the
// descriptor and lets the area go.
class ZcrxShare {
 public:
  ZcrxShare() = default;
  ZcrxShare(ZcrxShare&& o) noexcept : share_(std::exchange(o.share_, {-1, nullptr})) {}
  ZcrxShare& operator=(ZcrxShare&& o) noexcept {
    if (this != &o) {
      uringx_zcrx_share_drop(&share_);
      share_ = std::exchange(o.share_, {-1, nullptr});
    }
    return *this;
  }
  ~ZcrxShare() { uringx_zcrx_share_drop(&share_); }
  bool valid() const { return share_.owner != nullptr; }

 private:
  friend class RxPool;
  uringx_zcrx_share share_{-1, nullptr};
};

class RxPool {
 public:
  struct Options {
    uringx_rxsrc_mode mode = URINGX_RXSRC_AUTO;
    // zcrx: the NIC rx queue (ifname nullptr + mode ZCRX: NODEV copy mode).
    const char* ifname = nullptr;
    uint32_t queue = 0;
    uint64_t zcrx_area_bytes = 64ull << 20;
    uint32_t zcrx_refill_entries = 4096;
    // Length of each zcrx buffer: 0 (the page size) or a larger power of
    // two, for fewer completions per byte on bulk streams. Needs huge-page
    // area memory and a driver that takes the size; in AUTO mode a refusal
    // falls back to a buffer ring with the reason (uringx_zcrx_params).
    uint32_t zcrx_buffer_size = 0;
    // Provided-buffer ring.
    uint32_t buffers = 256;
    uint32_t buffer_size = 64 << 10;
    uint16_t buffer_group = 0;
    // Size classes: beside the ring of `buffers` x `buffer_size`, a ring of
    // smaller buffers (buffer group buffer_group ^ 0x8000), so that a small
    // message does not take a large buffer: a pool holds many more small
    // messages at once. Each stream picks its class from what its receives
    // bring: it starts large (a bulk stream never pays for the choice),
    // moves to the small class once 32 receives in a row averaged under
    // half a small buffer (one cancel and re-arm), back when a receive
    // fills small buffers whole; the small class out of buffers borrows
    // the large one's, never the other way. kAutoSmall: an eighth of the
    // large class's bytes in small buffers (a power of two), where
    // buffer_size is at least four small buffers and the ring is not
    // incremental (that packs small receives already); small_buffer_size 0
    // or kNoSmall: one class.
    static constexpr uint32_t kAutoSmall = 0;
    static constexpr uint32_t kNoSmall = UINT32_MAX;
    uint32_t small_buffer_size = 2048;
    uint32_t small_buffers = kAutoSmall;
    // Incremental consumption packs small receives into one buffer, but an
    // incremental ring feeds one stream at a time: off by default so that a
    // pool serves any number of connections.
    bool incremental = false;
    bool bundles = true;
    // Per-stream quota: a stream holding this many buffers (received and
    // not yet released, queued or handed out) stops receiving until it
    // holds half as many, so one slow consumer cannot take the whole shared
    // pool; its data waits in the socket (TCP backpressure, nothing lost).
    // kDefaultQuota: half the pool's buffers; kNoQuota: none. Unused on an
    // incremental ring, which feeds one stream. A consumer that must hold
    // more buffers than this to make progress (e.g. to collect a message)
    // waits forever in Next(): size the quota for the largest message.
    static constexpr uint32_t kDefaultQuota = 0;
    static constexpr uint32_t kNoQuota = UINT32_MAX;
    uint32_t stream_quota = kDefaultQuota;
    // Forwarding (a proxy's case): also bind the zcrx area for the transmit
    // DMA of this interface, so SendZc(fd, RxBuffer) sends received bytes on
    // from where they landed: no copy and no per-packet DMA mapping in
    // either direction (the area becomes a udmabuf, bound with
    // IORING_REGISTER_NET_TX_BUF; zcnet's kernel patches). It takes one of
    // the ring's fixed-buffer slots. Where it cannot be done (no zcrx, a
    // kernel or driver without it, no free slot) SendZc(fd, RxBuffer) is a
    // plain send and Describe() says why.
    const char* forward_ifname = nullptr;
  };

  // Create chooses the mechanism; a zcrx failure in AUTO mode is not an error.
  static absl::StatusOr<std::unique_ptr<RxPool>> Create(Ring& ring, const Options& options);

  // Rings outnumbering rx queues share a queue's ifq: ShareZcrx() (on this
  // pool's ring thread: the ring is single issuer) exports this pool's
  // ifq; Import(ring, share) on another ring's thread makes a pool there
  // that receives from the same queue into the same area, with its own
  // streams, counts and quota. Buffers go back through the one refill ring
  // (under a lock once shared). Either pool may be destroyed first.
  // ShareZcrx errors: FailedPrecondition for a pool that is not zcrx; the
  // kernel's errno with "kernel cannot share a zcrx ifq" where it lacks export.
  absl::StatusOr<ZcrxShare> ShareZcrx();
  static absl::StatusOr<std::unique_ptr<RxPool>> Import(
      Ring& ring, ZcrxShare share, uint32_t stream_quota = Options::kDefaultQuota);
  // True for a pool whose ifq another ring's pool also receives from.
  bool shared() const;
  // Gives up the handle; see the lifetime rule above.
  ~RxPool();
  RxPool(const RxPool&) = delete;
  RxPool& operator=(const RxPool&) = delete;

  // "zcrx", "zcrx-nodev" or "pbuf-ring".
  const char* mechanism() const;
  // Why zcrx is not the mechanism (URINGX_REASON_NONE when it is).
  uringx_reason reason() const;
  // mechanism() plus the reason, for logs.
  std::string Describe() const;
  // Buffers handed out (or queued in a stream) and not yet released.
  uint32_t outstanding() const;
  // zcrx copy-fallback counters (zero for buffer rings).
  uringx_zcrx_stats zcrx_stats() const;
  // Times a stream's receive ended because the pool had no free buffer
  // (ENOBUFS; the data waits in the socket). It re-arms as soon as a buffer
  // is free, at once if one came back meanwhile. Often non-zero means the
  // pool is too small for the data in flight.
  uint64_t out_of_buffers() const;
  // Times a stream reached its quota and stopped receiving until its
  // consumer gave buffers back, and the quota in force (0: none).
  uint64_t quota_pauses() const;
  uint32_t stream_quota() const;
  // True when the buffer ring really runs incremental / bundled receives
  // (the kernel may refuse what Options asked for; Describe() says so).
  bool incremental() const;
  bool bundles() const;
  // Bytes per buffer of the small class, 0 without one (Options::small_*).
  uint32_t small_buffer_size() const;

  // Forwarding: true when SendZc(fd, RxBuffer) sends from the area the NIC
  // mapped for transmission (Options::forward_ifname), and what it did.
  bool forwards_zero_copy() const;
  struct ForwardStats {
    uint64_t zc_sends = 0;       // from the area's dma-buf, no copy
    uint64_t plain_sends = 0;    // the kernel copied (pool not bound)
    uint64_t notifications = 0;  // zero-copy sends the kernel is done with
    uint64_t copied = 0;         // of those, reported copied (never, by design)
  };
  const ForwardStats& forward_stats() const;

  // Stream starts a multishot receive on @fd from this pool (armed at the
  // first Next()). The stream keeps its own duplicate of @fd. Errors:
  // InvalidArgument for a descriptor that is not open, FailedPrecondition
  // for a second live stream on an incremental ring.
  absl::StatusOr<RecvStream> Stream(int fd);

  Ring& ring() const;

 private:
  explicit RxPool(detail::RxPoolCore* core) : core_(core) {}
  detail::RxPoolCore* core_;
};

// One multishot receive. Destroying it while armed cancels the receive; its
// state lives on until the kernel's final CQE.
class RecvStream {
 public:
  RecvStream(RecvStream&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}
  RecvStream& operator=(RecvStream&&) = delete;
  RecvStream(const RecvStream&) = delete;
  ~RecvStream();

  // Next yields the next RxBuffer; empty at end of stream. Errors: the
  // socket's (ECONNRESET -> Unavailable, ...), Cancelled on stop,
  // DeadlineExceeded when @options.timeout passes first, DataLoss when a
  // completion cannot be decoded (the receive is then cancelled).
  detail::StreamNextAwaiter<detail::RxStreamState> Next(OpOptions options = {});
  // TryNext yields a buffer already received and queued, without waiting or
  // submitting anything; nullopt when none is (end of stream and errors are
  // Next()'s to report). With Next() it gathers what arrived together: wait
  // for one buffer, take the rest, send them in one sendmsg (Socket::Writev).
  std::optional<RxBuffer> TryNext();

  // Buffers this stream holds: received, queued or handed out, not released.
  uint32_t held() const;
  // Receive CQEs and io_uring re-arms so far (for benchmarks).
  uint64_t cqes() const;
  uint64_t arms() const;
  // The buffer size of the class the stream receives into now, and how
  // often it moved between the pool's size classes.
  uint32_t buffer_size() const;
  uint64_t class_moves() const;

 private:
  friend class RxPool;
  explicit RecvStream(detail::RxStreamState* s) : state_(s) {}
  detail::RxStreamState* state_;
};

// co_await SendZc(fd, RxBuffer): sends received bytes on, the forward of a
// proxy. From a pool whose area the NIC maps for transmission too
// (RxPool::Options::forward_ifname) it is IORING_OP_SEND_ZC from that area's
// dma-buf: the bytes leave from where they arrived, never copied, and the
// buffer goes back to its pool at the kernel's notification. From any
// other pool it is a plain send (the kernel copies) and the buffer goes
// back when it completes. Resumes once the kernel has queued every byte
// (MSG_WAITALL) with their number; a socket routed through another
// interface than the bound one gets ENODEV, never a silent copy.
class ForwardAwaiter {
 public:
  ForwardAwaiter(int fd, RxBuffer buf, OpOptions options)
      : fd_(fd), buf_(std::move(buf)), options_(options) {}
  bool await_ready() const noexcept;
  template <typename Promise>
  bool await_suspend(std::coroutine_handle<Promise> h);
  absl::StatusOr<size_t> await_resume();

 private:
  detail::ForwardOp* Submit();

  int fd_;
  RxBuffer buf_;
  OpOptions options_;
  detail::ForwardOp* op_ = nullptr;
};

inline ForwardAwaiter SendZc(int fd, RxBuffer buf, OpOptions options = {}) {
  return ForwardAwaiter(fd, std::move(buf), options);
}

}  // namespace zcnet

#include "zcnet/detail/rx_pool_core.hpp"
