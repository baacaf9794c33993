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
// re-arms as buffers come back: backpressure, never loss.
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

#include "zcnet/ring.hpp"

namespace zcnet {

class RxPool;
class RecvStream;
namespace detail {
class NextAwaiter;
}

// A view of received bytes in registered memory; gives the memory back when
// destroyed. Empty (size 0) marks the end of the stream.
class RxBuffer {
 public:
  RxBuffer() = default;
  RxBuffer(RxBuffer&& o) noexcept
      : pool_(std::exchange(o.pool_, nullptr)), data_(o.data_), size_(o.size_), token_(o.token_) {}
  RxBuffer& operator=(RxBuffer&& o) noexcept {
    if (this != &o) {
      Reset();
      pool_ = std::exchange(o.pool_, nullptr);
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
  friend class detail::NextAwaiter;
  RxBuffer(RxPool* pool, const uringx_rx_view& v)
      : pool_(pool), data_(static_cast<const std::byte*>(v.data)), size_(v.len), token_(v.token) {}

  RxPool* pool_ = nullptr;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
  uint64_t token_ = 0;
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
    // Provided-buffer ring.
    uint32_t buffers = 256;
    uint32_t buffer_size = 64 << 10;
    uint16_t buffer_group = 0;
    bool incremental = true;  // one RecvStream at a time when incremental
    bool bundles = true;
  };

  // Create chooses the mechanism; a zcrx failure in AUTO mode is not an error.
  static absl::StatusOr<std::unique_ptr<RxPool>> Create(Ring& ring, const Options& options);
  // Waits (owning ring) for the final CQEs of streams destroyed while armed,
  // then frees the buffers. On a borrowed ring the application must have
  // handed those CQEs over first: destroying the pool earlier aborts with a
  // message rather than free memory the kernel may write. Destroying it
  // while one of its RecvStreams is alive aborts with a message too.
  ~RxPool();
  RxPool(const RxPool&) = delete;
  RxPool& operator=(const RxPool&) = delete;

  // "zcrx", "zcrx-nodev" or "pbuf-ring".
  const char* mechanism() const { return uringx_rxsrc_kind_name(src_); }
  // Why zcrx is not the mechanism (URINGX_REASON_NONE when it is).
  uringx_reason reason() const { return uringx_rxsrc_reason(src_); }
  // mechanism() plus the reason, for logs.
  std::string Describe() const;
  // Buffers handed out and not yet released.
  uint32_t outstanding() const { return uringx_rxsrc_outstanding(src_); }
  // zcrx copy-fallback counters (zero for buffer rings).
  uringx_zcrx_stats zcrx_stats() const;
  // Times a stream's receive ended because the pool had no free buffer
  // (ENOBUFS; the data waits in the socket). It re-arms as soon as a buffer
  // is free, at once if one came back meanwhile. Often non-zero means the
  // pool is too small for the data in flight.
  uint64_t out_of_buffers() const { return out_of_buffers_; }

  // Stream starts a multishot receive on @fd from this pool (armed at the
  // first Next()). An incremental buffer ring feeds one stream at a time.
  absl::StatusOr<RecvStream> Stream(int fd);

  Ring& ring() const { return *ring_; }

  // Implementation detail of RecvStream (detail/recv_stream_impl.hpp).
  struct StreamState;

 private:
  friend class RxBuffer;
  friend class RecvStream;
  RxPool(Ring& ring, uringx_rxsrc* src) : ring_(&ring), src_(src) {}
  void Release(uint64_t token);
  void Rearm();

  Ring* ring_;
  uringx_rxsrc* src_;
  std::vector<uringx_rx_view> scratch_;
  StreamState* starved_ = nullptr;  // streams waiting for buffers
  size_t streams_ = 0;              // live RecvStreams
  size_t states_ = 0;               // stream states, orphaned ones included
  uint64_t out_of_buffers_ = 0;
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
  // DeadlineExceeded when @options.timeout passes first.
  auto Next(OpOptions options = {});

  // Receive CQEs and io_uring re-arms so far (for benchmarks).
  uint64_t cqes() const;
  uint64_t arms() const;

 private:
  friend class RxPool;
  explicit RecvStream(RxPool::StreamState* s) : state_(s) {}
  RxPool::StreamState* state_;
};

}  // namespace zcnet

#include "zcnet/detail/recv_stream_impl.hpp"
