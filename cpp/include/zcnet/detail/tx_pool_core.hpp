// zcnet/detail/tx_pool_core.hpp - what a TxPool handle points at: the
// registered region, its send slots and the Acquire() waiters. Included by
// tx_buffer.hpp; not a public header on its own.
#pragma once

#include <vector>

namespace zcnet {
namespace detail {

// The request one chunk's send uses; its address is the SQE's user_data for
// both the send CQE and the notification.
struct SendSlot : Operation {
  SendSlot(Ring& ring, TxPoolCore* p) : Operation(ring, &SendSlot::OnCqe), pool(p) {}
  static void OnCqe(Operation* op, const io_uring_cqe* cqe);
  void ResendPlain();
  void EndLend();
  void Finish(int result);
  template <typename Promise>
  void Wait(std::coroutine_handle<Promise> h) {
    SetWaiter(h);
  }
  TxPoolCore* pool;
  uint64_t token = 0;
  void* addr = nullptr;  // the chunk's bytes, for a plain resend
  uint32_t bytes = 0;
  int fd = -1;
  int res = 0;
  bool zero_copy = false;
  bool resend_plain = false;  // EOPNOTSUPP: resend plain at the notification
  __kernel_timespec deadline{};  // a borrowed ring's linked timeout
  uint64_t deadline_handle = 0;  // on the owning ring's deadline queue
  std::optional<std::stop_callback<CancelOnStop>> on_stop;
};

// How the kernel treated one socket's zero-copy sends (copy_fallback).
struct SocketCopyVerdict {
  uint64_t bytes_zerocopy = 0;
  uint64_t bytes_copied = 0;
  uint32_t notifications = 0;
  uint32_t plain_sends = 0;  // since the socket was judged to copy
  bool copies = false;
};

// Freed when the handle is gone, no TxBuffer is out, nothing is lent to the
// kernel and no wake-up is armed (MaybeFree).
struct TxPoolCore {
  TxPoolCore(Ring& ring, uringx_bufpool* pool, const TxPool::Options& options);
  ~TxPoolCore();

  absl::StatusOr<TxBuffer> Allocate();
  void Free(uint64_t token);
  // A chunk came back: wake the next Acquire() waiter from its own CQE.
  void ChunkReturned();
  static void OnFreeWakeup(void* owner, int res);
  // Plans a send of @bytes on @fd: zero-copy or plain.
  bool ZeroCopyFor(int fd, size_t bytes);
  void JudgeNotification(int fd, uint64_t bytes, bool copied);
  // Judges @fd to copy now (its socket has no zero copy at all).
  void MarkCopies(int fd);
  SocketCopyVerdict* VerdictOf(int fd);
  void MaybeFree();
  // A plain (copying) send of @bytes at @addr, on the pool's slot where the
  // kernel takes it (uringx_bufpool_prep_send).
  void PrepPlainSend(io_uring_sqe* sqe, int fd, const void* addr, uint32_t bytes);

  Ring* ring;
  uringx_bufpool* pool;
  TxPool::Options options;
  std::vector<std::unique_ptr<SendSlot>> slots;
  AcquireAwaiter* waiters_head = nullptr;
  AcquireAwaiter** waiters_tail = &waiters_head;
  // Acquire() waiters are resumed from their own CQE, never from inside
  // another request's completion or a TxBuffer's destructor: a chunk that
  // comes back with a send's CQE is that send's slot, and a waiter resumed
  // there could take the chunk and reuse the slot before the send's own
  // waiter has its result.
  Wakeup free_wakeup;
  TxPool::Stats stats;
  std::vector<SocketCopyVerdict> verdicts;  // by fd
  uint32_t copying_sockets = 0;
  uint32_t lent = 0;
  uint32_t buffers_out = 0;  // TxBuffers the application holds
  uint32_t dispatching = 0;  // inside a CQE handler that resumes a waiter
  bool handle_alive = true;
  std::string nic_fallback_reason;  // a NIC-registered pool was asked for, and why not
};

}  // namespace detail

template <typename Promise>
bool SendZcAwaiter::await_suspend(std::coroutine_handle<Promise> h) {
  slot_ = Submit();
  slot_->Wait(h);
  return true;
}

}  // namespace zcnet
