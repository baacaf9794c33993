// zcnet/tx_buffer.hpp - zero-copy send from registered memory: TxPool,
// TxBuffer, SendZc.
//
// A TxPool is a registered buffer pool (liburing-ext's uringx_bufpool): one
// region registered once, cut into chunks. A TxBuffer is one chunk, owned by
// the application until it is handed to SendZc(). SendZc resumes the sender
// once the kernel has queued the data; the chunk goes back to the pool only
// when the kernel's notification says the NIC is done with the pages.
//
// Lifetime: the TxPool object is a handle. The registered region lives on
// after it is destroyed until the last TxBuffer is gone and the last send's
// notification is in, so the pool, its buffers and sends in flight may be
// destroyed in any order (the Ring must outlive all of them).
//
// Knobs: sends shorter than zc_min_bytes use a plain send from the same
// registered chunk (zero-copy costs a notification and page pinning, not
// worth it for small payloads; the kernel copies them from the chunk). With
// copy_fallback a socket switches to plain sends once the kernel's reports
// (IORING_SEND_ZC_REPORT_USAGE) show it copies most of that socket's bytes
// anyway, as on loopback; the verdict is per socket and is dropped again
// every kCopyVerdictRetrySends plain sends, so a socket whose route changes
// (or an fd number reused by another connection) is judged afresh.
//
// NIC-registered mode (Options::nic_ifname): the pool is memory that
// interface has DMA-mapped once for transmission (liburing-ext's NIC TX
// regions: a udmabuf bound with IORING_REGISTER_NET_TX_BUF, Linux 7.3 with
// zcnet's kernel/patches), so a zero-copy send costs the driver no
// per-packet DMA mapping. SendZc is the same call; a socket routed through
// another interface gets an error (ENODEV), never a silent copy. Where the
// kernel or driver cannot, kAuto falls back to an ordinary registered pool
// and Describe() says why.
#pragma once

#include <coroutine>
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
#include <uringx/bufpool.h>

#include "zcnet/ring.hpp"
#include "zcnet/status.hpp"
#include "zcnet/task.hpp"

namespace zcnet {

class TxPool;
class TxBuffer;
class SendZcAwaiter;
namespace detail {
struct TxPoolCore;
struct SendSlot;
struct RecvIntoResult;
}

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
  friend struct detail::TxPoolCore;
  friend class SendZcAwaiter;
  friend class RecvIntoAwaiter;
  friend struct detail::RecvIntoResult;
  TxBuffer(detail::TxPoolCore* pool, const uringx_chunk& c) : pool_(pool), chunk_(c) {}

  detail::TxPoolCore* pool_ = nullptr;
  uringx_chunk chunk_{};
  size_t size_ = 0;
};

// Waits for a free chunk (TxPool::Acquire).
class AcquireAwaiter : public detail::Suspension {
 public:
  explicit AcquireAwaiter(detail::TxPoolCore* pool) : pool_(pool) {
    abandon = &AcquireAwaiter::Abandon;
  }
  bool await_ready() const noexcept;
  template <typename Promise>
  void await_suspend(std::coroutine_handle<Promise> h) {
    waiter_ = h;
    promise_ = detail::SuspendOn(h, this);
    Enqueue();
  }
  absl::StatusOr<TxBuffer> await_resume();

 private:
  friend struct detail::TxPoolCore;
  void Enqueue();
  static size_t Abandon(detail::Suspension* s, detail::PromiseBase* root);

  detail::TxPoolCore* pool_;
  std::coroutine_handle<> waiter_;
  detail::PromiseBase* promise_ = nullptr;
  AcquireAwaiter* next_ = nullptr;  // the pool's FIFO of waiters
  AcquireAwaiter** prev_link_ = nullptr;
};

class TxPool {
 public:
  struct Options {
    uint32_t chunk_size = 64 << 10;
    uint32_t chunks = 64;
    // Slot in the ring's fixed-buffer table. kAnyBufferSlot: zcnet registers
    // a sparse table of Ring::kBufferSlots on the ring (once) and takes a
    // free slot, so any number of pools coexist, including ones still
    // draining after their handle is gone. On a ring whose table the
    // application registered, name the slot this pool may replace.
    static constexpr uint32_t kAnyBufferSlot = 0x10000;
    uint32_t buf_index = kAnyBufferSlot;
    size_t zc_min_bytes = 4096;   // smaller sends are plain sends
    bool copy_fallback = true;    // plain sends on sockets the kernel copies for
    // Empty: ordinary registered memory. An interface: memory it has
    // DMA-mapped for TX (chunk_size a multiple of the page size).
    std::string nic_ifname;
    enum class Nic {
      kAuto,     // fall back to an ordinary pool, with the reason in Describe()
      kRequire,  // Create fails instead
    };
    Nic nic = Nic::kAuto;
    // Plain sends (and RecvInto) name the pool's slot where the kernel takes
    // registered buffers for plain SEND/RECV (IORING_RECVSEND_FIXED_BUF,
    // Linux 7.x): the kernel copies through the pages it pinned at
    // registration instead of the user mapping. false: always by address.
    bool fixed_plain = true;
  };

  static absl::StatusOr<std::unique_ptr<TxPool>> Create(Ring& ring, const Options& options);
  // Gives up the handle; the region stays registered until the last
  // TxBuffer is destroyed and the last send's notification is in.
  ~TxPool();
  TxPool(const TxPool&) = delete;
  TxPool& operator=(const TxPool&) = delete;

  // Allocate takes a free chunk: ResourceExhausted when all are in use or lent.
  absl::StatusOr<TxBuffer> Allocate();
  // co_await Acquire() waits until a chunk is free (FIFO among waiters).
  AcquireAwaiter Acquire();

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
    // Plain sends and RecvInto receives that named the slot (fixed_plain()).
    uint64_t fixed_plain_ops = 0;
  };
  const Stats& stats() const;
  // What backs the pool, and why a NIC-registered pool asked for is not.
  std::string Describe() const;
  bool nic_registered() const;
  // Plain sends and RecvInto name the slot (Options::fixed_plain, a kernel
  // that takes it, and not a NIC-registered pool); Describe() says why not.
  bool fixed_plain() const;
  uint32_t free_chunks() const;
  // Chunks whose send or notification is still pending.
  uint32_t lent_chunks() const;
  // True while the kernel's reports show it copies most of @fd's bytes (at
  // least kCopyVerdictNotifications notifications on that socket, copied >
  // zero-copy bytes); with copy_fallback @fd then gets plain sends.
  bool copies_seen(int fd) const;
  // True while some socket of this pool is judged to copy.
  bool copies_seen() const;
  static constexpr uint64_t kCopyVerdictNotifications = 4;
  static constexpr uint32_t kCopyVerdictRetrySends = 256;
  Ring& ring() const;

 private:
  explicit TxPool(detail::TxPoolCore* core) : core_(core) {}
  detail::TxPoolCore* core_;
};

// co_await socket-fd send of a TxBuffer (see SendZc below).
class SendZcAwaiter {
 public:
  SendZcAwaiter(int fd, TxBuffer buf, OpOptions options)
      : fd_(fd), buf_(std::move(buf)), options_(options) {}
  bool await_ready() const noexcept;
  template <typename Promise>
  bool await_suspend(std::coroutine_handle<Promise> h);
  absl::StatusOr<size_t> await_resume();

 private:
  detail::SendSlot* Submit();

  int fd_;
  TxBuffer buf_;
  OpOptions options_;
  detail::SendSlot* slot_ = nullptr;
};

// SendZc sends @buf.size() bytes of @buf on @fd; resumes when the kernel has
// queued them (all of them: MSG_WAITALL). The chunk returns to its pool at the
// kernel's notification, not before.
inline SendZcAwaiter SendZc(int fd, TxBuffer buf, OpOptions options = {}) {
  return SendZcAwaiter(fd, std::move(buf), options);
}

// RecvInto receives up to @buf.capacity() bytes on @fd into @buf's chunk and
// sets @buf.size() to the bytes received (0: the peer closed; on an error
// the size is left as it was). A plain IORING_OP_RECV, naming the pool's
// slot where TxPool::fixed_plain(), so a forwarder can receive into
// registered memory and hand the same chunk to SendZc without a copy of its
// own. @buf must stay alive, and in place, until the co_await returns; an
// empty TxBuffer is InvalidArgument. An awaitable, not a Task: no coroutine
// frame per receive.
namespace detail {
struct RecvIntoPrep {
  TxPoolCore* pool;
  int fd;
  void* addr;
  size_t len;
  void operator()(io_uring_sqe* sqe) const;
};
struct RecvIntoResult {
  TxBuffer* buf;
  absl::StatusOr<size_t> operator()(int res, uint32_t flags) const;
};
}  // namespace detail

class [[nodiscard]] RecvIntoAwaiter {
 public:
  RecvIntoAwaiter(int fd, TxBuffer& buf, OpOptions options);
  bool await_ready() const noexcept { return !io_; }
  template <typename Promise>
  bool await_suspend(std::coroutine_handle<Promise> h) {
    return io_->await_suspend(h);
  }
  absl::StatusOr<size_t> await_resume();

 private:
  std::optional<IoAwaitable<detail::RecvIntoPrep, detail::RecvIntoResult>> io_;  // empty: no chunk
};

inline RecvIntoAwaiter RecvInto(int fd, TxBuffer& buf, OpOptions options = {}) {
  return RecvIntoAwaiter(fd, buf, std::move(options));
}

}  // namespace zcnet

#include "zcnet/detail/tx_pool_core.hpp"
