// zcnet/tx_buffer.hpp - zero-copy send from registered memory: TxPool,
// TxBuffer, SendZc.
//
// A TxPool is a registered buffer pool (liburing-ext's uringx_bufpool): one
// region registered once, cut into chunks. A TxBuffer is one chunk, owned by
// the application until it is handed to SendZc(). SendZc resumes the sender
// once the kernel has queued the data; the chunk goes back to the pool only
// when the kernel's notification says the NIC is done with the pages.
//
// Knobs: sends shorter than zc_min_bytes use a plain send from the same
// registered chunk (zero-copy costs a notification and page pinning, not
// worth it for small payloads; the kernel copies them from the chunk), and
// with copy_fallback the pool switches to
// plain sends once the kernel's reports (IORING_SEND_ZC_REPORT_USAGE) show it
// copies most of the bytes anyway, as on loopback (judged after a few
// notifications, so an occasional copy on a NIC path does not count).
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <utility>
#include <vector>

#include <absl/status/statusor.h>
#include <absl/types/span.h>
#include <uringx/bufpool.h>

#include "zcnet/ring.hpp"
#include "zcnet/status.hpp"
#include "zcnet/task.hpp"

namespace zcnet {

class TxPool;

// One registered chunk. Move-only; returns to its pool when destroyed.
class TxBuffer {
 public:
  TxBuffer() = default;
  TxBuffer(TxBuffer&& o) noexcept
      : pool_(std::exchange(o.pool_, nullptr)), chunk_(o.chunk_), size_(o.size_) {}
  TxBuffer& operator=(TxBuffer&& o) noexcept {
    if (this != &o) {
      Reset();
      pool_ = std::exchange(o.pool_, nullptr);
      chunk_ = o.chunk_;
      size_ = o.size_;
    }
    return *this;
  }
  TxBuffer(const TxBuffer&) = delete;
  TxBuffer& operator=(const TxBuffer&) = delete;
  ~TxBuffer() { Reset(); }

  std::byte* data() const { return static_cast<std::byte*>(chunk_.addr); }
  size_t capacity() const { return chunk_.len; }
  // Bytes to send (set with resize()).
  size_t size() const { return size_; }
  void resize(size_t n) { size_ = n < capacity() ? n : capacity(); }
  absl::Span<std::byte> span() const { return {data(), capacity()}; }
  explicit operator bool() const { return pool_ != nullptr; }
  void Reset();

 private:
  friend class TxPool;
  friend class SendZcAwaiter;
  TxBuffer(TxPool* pool, const uringx_chunk& c) : pool_(pool), chunk_(c) {}

  TxPool* pool_ = nullptr;
  uringx_chunk chunk_{};
  size_t size_ = 0;
};

class TxPool {
 public:
  struct Options {
    uint32_t chunk_size = 64 << 10;
    uint32_t chunks = 64;
    // Slot in the ring's fixed-buffer table. The first pool on a ring without
    // a table registers its own; for several pools (or an application that
    // registers buffers too) register a sparse table first and give each
    // pool its own slot.
    uint16_t buf_index = 0;
    size_t zc_min_bytes = 4096;   // smaller sends are plain sends
    bool copy_fallback = true;    // plain sends once the kernel copies most bytes
  };

  static absl::StatusOr<std::unique_ptr<TxPool>> Create(Ring& ring, const Options& options);
  // Waits (owning ring) for chunks still lent to the kernel, then
  // unregisters; on a borrowed ring destroying it earlier aborts with a
  // message rather than unmap pages the kernel may still read.
  ~TxPool();
  TxPool(const TxPool&) = delete;
  TxPool& operator=(const TxPool&) = delete;

  // Allocate takes a free chunk: ResourceExhausted when all are in use or lent.
  absl::StatusOr<TxBuffer> Allocate();
  // Acquire waits until a chunk is free.
  Task<absl::StatusOr<TxBuffer>> Acquire();

  struct Stats {
    uint64_t zc_sends = 0;
    uint64_t plain_sends = 0;
    uint64_t short_sends = 0;     // plain sends shorter than zc_min_bytes
    // Bytes of zero-copy sends by the kernel's report. The report is one
    // flag per send (IORING_NOTIF_USAGE_ZC_COPIED: at least part of it was
    // copied), so bytes_copied counts whole sends and is an upper bound on
    // what the kernel really copied.
    uint64_t bytes_zerocopy = 0;
    uint64_t bytes_copied = 0;
    uint64_t notifications = 0;
  };
  const Stats& stats() const { return stats_; }
  uint32_t free_chunks() const { return uringx_bufpool_nr_free(pool_); }
  // Chunks whose send or notification is still pending.
  uint32_t lent_chunks() const { return lent_; }
  // True once the kernel's reports show it copies most bytes (at least
  // kCopyVerdictNotifications notifications, copied > zero-copy bytes);
  // with copy_fallback the pool sends plainly from then on.
  bool copies_seen() const { return copies_seen_; }
  static constexpr uint64_t kCopyVerdictNotifications = 4;
  Ring& ring() const { return *ring_; }

  // Implementation detail: the per-chunk request a send uses; its address is
  // the SQE's user_data for both the send CQE and the notification.
  struct SendSlot : Operation {
    SendSlot(Ring& ring, TxPool* p) : Operation(ring, &SendSlot::OnCqe), pool(p) {}
    static void OnCqe(Operation* op, const io_uring_cqe* cqe);
    template <typename Promise>
    void Wait(std::coroutine_handle<Promise> h) { SetWaiter(h); }
    TxPool* pool;
    uint64_t token = 0;
    uint32_t bytes = 0;
    int res = 0;
    bool zero_copy = false;
    __kernel_timespec deadline{};
    std::optional<std::stop_callback<detail::CancelOnStop>> on_stop;
  };

 private:
  friend class TxBuffer;
  friend class SendZcAwaiter;
  struct FreeWaiter;
  TxPool(Ring& ring, uringx_bufpool* pool, const Options& options);
  void Free(uint64_t token);
  void ChunkReturned();
  static void OnFreeWakeup(void* owner, int res);

  Ring* ring_;
  uringx_bufpool* pool_;
  Options options_;
  std::vector<std::unique_ptr<SendSlot>> slots_;
  std::vector<std::coroutine_handle<>> free_waiters_;
  // Acquire() waiters are resumed from their own CQE, never from inside
  // another request's completion or a TxBuffer's destructor: a chunk that
  // comes back with a send's CQE is that send's slot, and a waiter resumed
  // there could take the chunk and reuse the slot before the send's own
  // waiter has its result.
  Wakeup free_wakeup_;
  Stats stats_;
  uint32_t lent_ = 0;
  bool copies_seen_ = false;
};

// co_await socket-fd send of a TxBuffer (see SendZc below).
class SendZcAwaiter {
 public:
  SendZcAwaiter(int fd, TxBuffer buf, OpOptions options)
      : fd_(fd), buf_(std::move(buf)), options_(options) {}
  bool await_ready() const noexcept { return !buf_ || options_.stop_requested(); }
  template <typename Promise>
  bool await_suspend(std::coroutine_handle<Promise> h) {
    slot_ = Submit();
    slot_->Wait(h);
    return true;
  }
  absl::StatusOr<size_t> await_resume() {
    if (!slot_) {
      return buf_ ? ErrnoStatus("send_zc", ECANCELED)
                  : absl::InvalidArgumentError("send_zc: empty TxBuffer");
    }
    slot_->on_stop.reset();
    if (slot_->res < 0) return ErrnoStatus(slot_->zero_copy ? "send_zc" : "send", slot_->res);
    return static_cast<size_t>(slot_->res);
  }

 private:
  TxPool::SendSlot* Submit();

  int fd_;
  TxBuffer buf_;
  OpOptions options_;
  TxPool::SendSlot* slot_ = nullptr;
};

// SendZc sends @buf.size() bytes of @buf on @fd; resumes when the kernel has
// queued them (all of them: MSG_WAITALL). The chunk returns to its pool at the
// kernel's notification, not before.
inline SendZcAwaiter SendZc(int fd, TxBuffer buf, OpOptions options = {}) {
  return SendZcAwaiter(fd, std::move(buf), options);
}

}  // namespace zcnet
