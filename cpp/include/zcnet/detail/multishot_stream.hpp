// zcnet/detail/multishot_stream.hpp - the core RecvStream and AcceptStream
// share: one multishot request feeding items to one consumer at a time.
//
// The state is heap-allocated once per stream (never per CQE) and lives on
// after the stream object is destroyed until the kernel's last CQE for it;
// it owns a duplicate of the socket's descriptor, so a re-arm always reaches
// the socket the stream was made for, even after the application closed its
// own descriptor and the number went to another connection.
//
// A consumer waits in Next(): the request is armed on the first wait, a
// deadline is an entry of the owning ring's deadline queue (a Wakeup timer
// on a borrowed ring), a stop request pokes the wait from the CQE loop.
// Abandoning a waiting frame only detaches it: the multishot request stays
// armed for the next Next(), since it writes into the stream's memory, not
// the frame's.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <coroutine>
#include <optional>
#include <stop_token>
#include <utility>

#include "zcnet/detail/deadline_queue.hpp"
#include "zcnet/operation.hpp"

namespace zcnet {
namespace detail {

enum class WaitEnd { kReady, kStopped, kTimedOut };

// @Derived provides: bool Ready() const; void Arm(); void DropQueued();
// bool CanArm() const; bool Holding() const (items handed out that still
// point at the state: it is not freed while true); and is deleted through
// MaybeDelete().
template <typename Derived>
class MultishotStream : public Operation {
 public:
  // The stream object is gone: drop what was queued, cancel, free at the
  // last CQE. A Next() still waiting on it completes with Cancelled, from
  // the CQE loop (never from inside the destructor that orphaned it).
  void Orphan() {
    orphaned_ = true;
    derived().DropQueued();
    if (armed_) Cancel();
    ForgetDeadline();
    timer_.Disarm();
    if (HasWaiter()) {
      stopped_ = true;
      poke_.ArmNow();
    }
    MaybeDelete();
  }

  bool orphaned() const { return orphaned_; }
  bool armed() const { return armed_; }
  int fd() const { return fd_; }

  // Next(): called by the awaiter.
  template <typename Promise>
  void BeginWait(std::coroutine_handle<Promise> h, const OpOptions& options) {
    SetWaiter(h);
    if (!armed_ && derived().CanArm()) derived().Arm();
    if (options.timeout) {
      // The ring's deadline queue (no SQE per wait); a borrowed ring: a timer.
      deadline_ = AddRingDeadline(ring(), *options.timeout, &MultishotStream::OnDeadline, this);
      if (!deadline_) timer_.ArmTimer(*options.timeout);
    }
  }
  WaitEnd EndWait(bool stop_requested) {
    ForgetDeadline();
    timer_.Disarm();
    if (stopped_ || (stop_requested && !derived().Ready())) {
      stopped_ = false;
      return WaitEnd::kStopped;
    }
    if (std::exchange(timed_out_, false)) return WaitEnd::kTimedOut;
    return WaitEnd::kReady;
  }
  // From a stop callback: wake the waiter from the CQE loop, since resuming
  // it inside std::stop_source::request_stop() is not safe.
  void Poke() {
    if (!HasWaiter()) return;
    stopped_ = true;
    poke_.ArmNow();
  }

 protected:
  MultishotStream(Ring& ring, int dup_fd, CompleteFn on_cqe)
      : Operation(ring, on_cqe),
        fd_(dup_fd),
        timer_(ring, this, &MultishotStream::OnWakeup),
        poke_(ring, this, &MultishotStream::OnWakeup) {
    abandon = &MultishotStream::AbandonWait;
  }
  ~MultishotStream() {
    if (fd_ >= 0) ::close(fd_);
  }

  // The derived CQE handler calls these.
  void WakeIfReady() {
    if (HasWaiter() && derived().Ready()) ResumeWaiter();  // may free the waiter: last
  }
  // True when the owner is gone: the CQE is only bookkeeping.
  bool ReapIfOrphaned() {
    if (!orphaned_) return false;
    derived().DropQueued();
    MaybeDelete();
    return true;
  }
  void MaybeDelete() {
    if (!armed_ && !timer_.armed() && !poke_.armed() && !derived().Holding()) delete &derived();
  }

  int fd_;
  bool armed_ = false;

 private:
  Derived& derived() { return static_cast<Derived&>(*this); }
  const Derived& derived() const { return static_cast<const Derived&>(*this); }

  static void OnWakeup(void* owner, int res) {
    auto* s = static_cast<MultishotStream*>(owner);
    if (s->orphaned_) {
      if (s->HasWaiter()) {
        s->stopped_ = true;
        s->ResumeWaiter();  // it reads the state: deleted only after
      }
      s->MaybeDelete();
      return;
    }
    if (!s->HasWaiter() || s->derived().Ready()) return;
    if (res == -ETIME) s->timed_out_ = true;
    if (s->timed_out_ || s->stopped_) s->ResumeWaiter();
  }
  static size_t AbandonWait(Suspension* self, PromiseBase*) {
    auto* s = static_cast<MultishotStream*>(self);
    s->DropWaiter();
    s->stopped_ = false;
    s->ForgetDeadline();
    s->timer_.Disarm();
    return 0;
  }
  // A wait's deadline passed (the ring's deadline queue): as the timer's
  // -ETIME. Never for an orphaned stream: Orphan() forgets the deadline.
  static void OnDeadline(void* owner) {
    auto* s = static_cast<MultishotStream*>(owner);
    s->deadline_ = 0;
    OnWakeup(owner, -ETIME);
  }
  void ForgetDeadline() {
    if (deadline_) RemoveRingDeadline(ring(), std::exchange(deadline_, 0));
  }

  bool orphaned_ = false;
  bool stopped_ = false;
  bool timed_out_ = false;
  uint64_t deadline_ = 0;  // deadline of one Next() on an owning ring
  Wakeup timer_;           // the same on a borrowed ring
  Wakeup poke_;
};

// Next() of a stream whose state is @State; @State::Take(WaitEnd) makes the
// result once the wait is over.
template <typename State>
class StreamNextAwaiter {
 public:
  StreamNextAwaiter(State* s, OpOptions options) : s_(s), options_(options) {}

  bool await_ready() const noexcept { return s_->Ready() || options_.stop_requested(); }
  template <typename Promise>
  bool await_suspend(std::coroutine_handle<Promise> h) {
    s_->BeginWait(h, options_);
    if (options_.stop_possible()) on_stop_.emplace(*options_.stop, PokeOnStop{s_});
    return true;
  }
  auto await_resume() {
    on_stop_.reset();
    return s_->Take(s_->EndWait(options_.stop_requested()));
  }

 private:
  struct PokeOnStop {
    State* s;
    void operator()() const noexcept { s->Poke(); }
  };
  State* s_;
  OpOptions options_;
  std::optional<std::stop_callback<PokeOnStop>> on_stop_;
};

// A duplicate of @fd for a stream (close-on-exec), or -errno.
inline int DupForStream(int fd) {
  int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  return d < 0 ? -errno : d;
}

}  // namespace detail
}  // namespace zcnet
