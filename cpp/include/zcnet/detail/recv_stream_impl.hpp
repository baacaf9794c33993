// zcnet/detail/recv_stream_impl.hpp - RecvStream's state and Next() awaiter.
// Included by rx_buffer.hpp; not a public header on its own.
#pragma once

#include <stop_token>

#include "zcnet/status.hpp"

namespace zcnet {

// The state of one multishot receive. Heap-allocated once per stream (never
// per CQE) so it can outlive a RecvStream destroyed while the receive is armed.
struct RxPool::StreamState : Operation {
  StreamState(RxPool& p, int socket_fd)
      : Operation(*p.ring_, &StreamState::OnCqe),
        pool(&p),
        fd(socket_fd),
        timer(*p.ring_, this, &StreamState::OnTimer),
        poke(*p.ring_, this, &StreamState::OnPoke) {
    p.states_++;
  }
  ~StreamState() { pool->states_--; }

  static void OnCqe(Operation* op, const io_uring_cqe* cqe);
  void Arm();
  static void OnTimer(void* owner, int res);
  static void OnPoke(void* owner, int res);
  void DropQueued();
  bool Ready() const { return head < queue.size() || eof || error; }
  // Frees the state once nothing of the kernel's refers to it.
  bool MaybeDelete();

  template <typename Promise>
  void Wait(std::coroutine_handle<Promise> h) {
    SetWaiter(h);
  }
  void Wake() { ResumeWaiter(); }
  bool HasWaiter() const { return static_cast<bool>(waiter_); }

  RxPool* pool;
  int fd;
  std::vector<uringx_rx_view> queue;  // received, not yet handed out
  size_t head = 0;
  bool armed = false;
  bool starved = false;  // ended on ENOBUFS, waiting for buffers
  bool eof = false;
  bool orphaned = false;  // the RecvStream is gone
  bool stopped = false;
  bool timed_out = false;
  int error = 0;
  StreamState* next_starved = nullptr;
  uint64_t cqes = 0;
  uint64_t arms = 0;
  Wakeup timer;  // deadline of one Next()
  // Wakes a Next() after a stop request, from the CQE loop: resuming the
  // waiter inside std::stop_source::request_stop() is not safe.
  Wakeup poke;
};

namespace detail {

struct StopNext {
  RxPool::StreamState* s;
  void operator()() const noexcept {
    if (!s->HasWaiter()) return;
    s->stopped = true;
    s->poke.ArmNow();
  }
};

class NextAwaiter {
 public:
  NextAwaiter(RxPool::StreamState* s, OpOptions options) : s_(s), options_(std::move(options)) {}

  bool await_ready() const noexcept {
    return s_->Ready() || options_.stop_requested();
  }

  template <typename Promise>
  bool await_suspend(std::coroutine_handle<Promise> h) {
    s_->Wait(h);
    if (!s_->armed && !s_->starved) s_->Arm();
    if (options_.timeout) s_->timer.ArmTimer(*options_.timeout);
    if (options_.stop_possible()) on_stop_.emplace(*options_.stop, StopNext{s_});
    return true;
  }

  absl::StatusOr<RxBuffer> await_resume() {
    on_stop_.reset();
    s_->timer.Disarm();
    if (s_->stopped || (options_.stop_requested() && !s_->Ready())) {
      s_->stopped = false;
      return ErrnoStatus("recv stream", ECANCELED);
    }
    if (s_->timed_out) {
      s_->timed_out = false;
      return ErrnoStatus("recv stream", ETIME);
    }
    if (s_->head < s_->queue.size()) {
      RxBuffer b(s_->pool, s_->queue[s_->head++]);
      if (s_->head == s_->queue.size()) {
        s_->queue.clear();
        s_->head = 0;
      }
      return b;
    }
    if (s_->error) return ErrnoStatus("recv", s_->error);
    return RxBuffer();  // end of stream
  }

 private:
  RxPool::StreamState* s_;
  OpOptions options_;
  std::optional<std::stop_callback<StopNext>> on_stop_;
};

}  // namespace detail

inline auto RecvStream::Next(OpOptions options) {
  return detail::NextAwaiter(state_, std::move(options));
}

}  // namespace zcnet
